/* Unit tests for store/vaultc, store/root_vault, store/cmkcheck and
 * store/oproot (the operator's system and availability keys) against
 * a real custos vault started in this process over TLS, the store
 * authenticating with its client certificate as principal custos-store.
 * Every denial and every kind of unreachability is produced for real. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/pki.h"
#include "core/secmem.h"
#include "store/cmkcheck.h"
#include "store/keys.h"
#include "store/meta.h"
#include "store/oproot.h"
#include "store/root_vault.h"
#include "store/vaultc.h"
#include "vault/vault.h"
#include "helpers/skeys_fx.h"

#define SVC_ROLE "Key Vault Crypto Service Encryption User"

struct vlt {
	char data[128];
	cu_vault_t *v;
	char url[128];
	char token[128]; /* the vault's administrator */
};

static struct {
	char dir[64];
	char pki[128], ca[160], cert[160], key[160], other_ca[160];
	char fp[CU_PKI_FINGERPRINT_LEN + 1];
	struct vlt main;    /* purge protection on */
	cu_vaultc_t *store; /* as custos-store, by certificate */
	cu_vaultc_t *admin; /* as the vault's administrator, by token */
	int n;              /* for unique names */
	int devnull;        /* the vault's request log goes here */
} g;

/* ---- helpers ---------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct fetch {
	char *p;
	size_t len;
};

static size_t sink(char *d, size_t s, size_t n, void *arg)
{
	struct fetch *f = arg;
	char *p = realloc(f->p, f->len + s * n + 1);
	if (p == NULL)
		return 0;
	memcpy(p + f->len, d, s * n);
	f->p = p;
	f->len += s * n;
	p[f->len] = '\0';
	return s * n;
}

/* An admin call to vault x: returns the status; *out (may be NULL) the
 * parsed JSON body. */
static long call(struct vlt *x, const char *method, const char *path,
                 const char *body, json_t **out)
{
	char url[512], auth[200];
	struct curl_slist *h = NULL;
	struct fetch f = {0};
	long status = 0;
	CURL *c = curl_easy_init();

	snprintf(url, sizeof(url), "%s%s", x->url, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", x->token);
	h = curl_slist_append(h, auth);
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CAINFO, g.ca);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (out != NULL)
		*out = f.p ? json_loads(f.p, 0, NULL) : NULL;
	free(f.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return status;
}

static void ok(long status)
{
	assert_true(status >= 200 && status < 300);
}

/* Create key NAME (kty "RSA" or "oct" or "EC") with extra JSON members;
 * its versioned kid into kid (may be NULL). */
static void create_key(struct vlt *x, const char *name, const char *spec,
                       char *kid, size_t cap)
{
	char path[256];
	json_t *j = NULL;

	snprintf(path, sizeof(path), "/keys/%s/create?api-version=7.4", name);
	ok(call(x, "POST", path, spec, &j));
	if (kid != NULL)
		snprintf(kid, cap, "%s",
		         json_string_value(json_object_get(
		             json_object_get(j, "key"), "kid")));
	json_decref(j);
}

static void patch_key(struct vlt *x, const char *name, const char *body)
{
	char path[256];

	snprintf(path, sizeof(path), "/keys/%s?api-version=7.4", name);
	ok(call(x, "PATCH", path, body, NULL));
}

static void grant(struct vlt *x, const char *id, const char *name)
{
	char path[256], body[512];

	snprintf(path, sizeof(path), "/admin/v1/role-assignments/%s", id);
	snprintf(body, sizeof(body),
	         "{\"principal\":\"custos-store\",\"role\":\"%s\","
	         "\"scope\":\"/keys/%s\"}",
	         SVC_ROLE, name);
	ok(call(x, "PUT", path, body, NULL));
}

static void unassign(struct vlt *x, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/admin/v1/role-assignments/%s", id);
	ok(call(x, "DELETE", path, NULL, NULL));
}

/* A fresh key name, an oct key (fast to make) granted to the store. */
static void oct_granted(char *name, size_t ncap, char *kid, size_t kcap)
{
	snprintf(name, ncap, "oct%d", ++g.n);
	create_key(&g.main, name, "{\"kty\":\"oct\",\"key_size\":256}", kid,
	           kcap);
	grant(&g.main, name, name);
}

/* The latest kid of NAME in vault x. */
static void latest_kid(struct vlt *x, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/keys/%s", x->url, name);
}

static int start_vault(struct vlt *x, const char *sub, int purge_protection)
{
	struct cu_vault_config cfg = {0};
	char srv[160], srvkey[160], tokpath[200];
	char *tok = NULL;
	size_t len = 0;

	snprintf(x->data, sizeof(x->data), "%s/%s", g.dir, sub);
	snprintf(srv, sizeof(srv), "%s/%s", g.pki, CU_PKI_SERVER_CERT);
	snprintf(srvkey, sizeof(srvkey), "%s/%s", g.pki, CU_PKI_SERVER_KEY);
	cfg.tls_cert_file = srv;
	cfg.tls_key_file = srvkey;
	cfg.client_ca_file = g.ca;
	cfg.data_dir = x->data;
	cfg.purge_protection = purge_protection;
	if (mkdir(x->data, 0700) != 0 || cu_vault_start(&cfg, &x->v) != 0)
		return -1;
	snprintf(x->url, sizeof(x->url), "%s", cu_vault_url(x->v));
	snprintf(tokpath, sizeof(tokpath), "%s/%s", x->data,
	         CU_VAULT_ADMIN_TOKEN_FILE);
	if (cu_pki_read_file(tokpath, 4096, &tok, &len) != 0)
		return -1;
	while (len > 0 && (tok[len - 1] == '\n' || tok[len - 1] == '\r'))
		tok[--len] = '\0';
	snprintf(x->token, sizeof(x->token), "%s", tok);
	cu_pki_pem_free(tok);
	return 0;
}

static void register_store(struct vlt *x)
{
	char body[200];

	snprintf(body, sizeof(body),
	         "{\"auth\":\"certificate\",\"certificate_sha256\":\"%s\"}",
	         g.fp);
	ok(call(x, "PUT", "/admin/v1/principals/custos-store", body, NULL));
}

static cu_vaultc_t *store_client(const char *url, const char *ca,
                                 unsigned timeout_ms)
{
	struct cu_vaultc_config c = {.url = url,
	                             .ca_file = ca,
	                             .cert_file = g.cert,
	                             .key_file = g.key,
	                             .connect_timeout_ms = timeout_ms,
	                             .timeout_ms = timeout_ms};
	cu_vaultc_t *v = NULL;

	assert_int_equal(cu_vaultc_new(&c, &v), 0);
	return v;
}

/* A port with nothing listening. */
static int closed_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	port = ntohs(a.sin_port);
	close(s);
	return port;
}

static int setup(void **state)
{
	char *ca_pem = NULL, *ca_key = NULL;
	struct cu_vaultc_config ac = {0};

	g.devnull = open("/dev/null", O_WRONLY);
	cu_log_init("test", CU_LOG_ERROR, g.devnull);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	snprintf(g.dir, sizeof(g.dir), "/tmp/custos-test-vaultc-XXXXXX");
	if (mkdtemp(g.dir) == NULL)
		return -1;
	snprintf(g.pki, sizeof(g.pki), "%s/pki", g.dir);
	snprintf(g.ca, sizeof(g.ca), "%s/%s", g.pki, CU_PKI_CA_CERT);
	snprintf(g.cert, sizeof(g.cert), "%s/client-custos-store.pem", g.pki);
	snprintf(g.key, sizeof(g.key), "%s/client-custos-store-key.pem", g.pki);
	snprintf(g.other_ca, sizeof(g.other_ca), "%s/other-ca.pem", g.dir);
	if (cu_pki_init_dir(g.pki, NULL, 0) != 0 ||
	    cu_pki_issue_client_dir(g.pki, "custos-store", g.fp) != 0 ||
	    cu_pki_ca_new("another CA", 1, &ca_pem, &ca_key) != 0 ||
	    cu_pki_write_file(g.other_ca, ca_pem, strlen(ca_pem), 0644) != 0)
		return -1;
	cu_pki_pem_free(ca_pem);
	cu_pki_pem_free(ca_key);
	if (start_vault(&g.main, "vault", 1) != 0)
		return -1;
	register_store(&g.main);
	g.store = store_client(g.main.url, g.ca, 0);
	ac.url = g.main.url;
	ac.ca_file = g.ca;
	ac.token = g.main.token;
	if (cu_vaultc_new(&ac, &g.admin) != 0)
		return -1;
	(void)state;
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	cu_vaultc_free(g.store);
	cu_vaultc_free(g.admin);
	cu_vault_free(g.main.v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", g.dir);
	if (system(cmd) != 0)
		return -1;
	cu_vaultc_global_cleanup();
	curl_global_cleanup();
	close(g.devnull);
	(void)state;
	return 0;
}

/* ---- parsers ---------------------------------------------------------- */

static void kid_parser_is_strict(void **state)
{
	static const char *const good[] = {
	    "https://v.example/keys/k1",
	    "https://V.Example:8443/keys/k-1/",
	    "https://127.0.0.1:1/keys/a/0123456789ABCDEF0123456789abcdef",
	    "https://[::1]:443/keys/k",
	};
	static const char *const bad[] = {
	    "http://v.example/keys/k1",
	    "https://v.example/keys/",
	    "https://v.example/keys/k_1",
	    "https://v.example/keys/k1/0123",
	    "https://v.example/keys/k1/0123456789abcdef0123456789abcdeg",
	    "https://v.example/keys/k1/0123456789abcdef0123456789abcdef/",
	    "https://v.example/keys/k1?x=1",
	    "https://u@v.example/keys/k1",
	    "https://v.example:0/keys/k1",
	    "https://v.example:65536/keys/k1",
	    "https://v.example/secrets/k1",
	    "https:///keys/k1",
	    "https://v.example/keys/k1/a/b",
	    "",
	};
	struct cu_vaultc_kid k;
	char out[CU_VAULTC_KID_MAX + 1];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_int_equal(
		    cu_vaultc_kid_parse(good[i], strlen(good[i]), &k), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(
		    cu_vaultc_kid_parse(bad[i], strlen(bad[i]), &k),
		    CU_ERR_INVAL);
	assert_int_equal(cu_vaultc_kid_parse(good[1], strlen(good[1]), &k), 0);
	assert_string_equal(k.origin, "https://v.example:8443");
	assert_string_equal(k.name, "k-1");
	assert_string_equal(k.version, "");
	assert_int_equal(cu_vaultc_kid_parse(good[2], strlen(good[2]), &k), 0);
	assert_string_equal(k.version, "0123456789abcdef0123456789abcdef");
	assert_int_equal(cu_vaultc_kid_format(&k, out, sizeof(out)), 0);
	assert_string_equal(out, "https://127.0.0.1:1/keys/a/"
	                         "0123456789abcdef0123456789abcdef");
	/* a NUL inside, and a kid over the bound */
	assert_int_equal(cu_vaultc_kid_parse("https://v/keys/a\0b", 18, &k),
	                 CU_ERR_INVAL);
	{
		char big[CU_VAULTC_KID_MAX + 40];
		memset(big, 'a', sizeof(big));
		memcpy(big, "https://v/keys/", 15);
		assert_int_equal(cu_vaultc_kid_parse(big, sizeof(big), &k),
		                 CU_ERR_INVAL);
	}
	(void)state;
}

static void error_bodies_are_classified(void **state)
{
	static const struct {
		long status;
		const char *op, *body;
		enum cu_vaultc_reason reason;
		int err;
	} cases[] = {
	    /* Azure's and custos vault's texts */
	    {403, "unwrapkey",
	     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation "
	     "unwrapKey is not allowed on a disabled key.\"}}",
	     CU_VAULTC_KEY_DISABLED, CU_ERR_DENIED},
	    {403, "wrapkey",
	     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Operation "
	     "wrapkey is not allowed: the key has expired (exp)\"}}",
	     CU_VAULTC_KEY_EXPIRED, CU_ERR_DENIED},
	    {403, "wrapkey",
	     "{\"error\":{\"code\":\"Forbidden\",\"message\":\"Caller is not "
	     "authorized to perform action on resource. Caller: x; Action: "
	     "wrapkey; Resource: /keys/disabled-key\",\"innererror\":"
	     "{\"code\":\"ForbiddenByRbac\"}}}",
	     CU_VAULTC_PERMISSION_DENIED, CU_ERR_DENIED},
	    {403, "get", "not json", CU_VAULTC_PERMISSION_DENIED,
	     CU_ERR_DENIED},
	    {401, "get", "", CU_VAULTC_UNAUTHENTICATED, CU_ERR_DENIED},
	    {404, "get",
	     "{\"error\":{\"code\":\"KeyNotFound\",\"message\":\"x\"}}",
	     CU_VAULTC_KEY_NOT_FOUND, CU_ERR_DENIED},
	    {400, "unwrapkey", "{}", CU_VAULTC_UNWRAP_FAILED, CU_ERR_AUTH},
	    {400, "wrapkey", "{}", CU_VAULTC_BAD_REQUEST, CU_ERR_INVAL},
	    {429, "get", "", CU_VAULTC_UNREACHABLE, CU_ERR_UNAVAILABLE},
	    {503, "get", "", CU_VAULTC_UNREACHABLE, CU_ERR_UNAVAILABLE},
	    {500, "get", "", CU_VAULTC_UNREACHABLE, CU_ERR_UNAVAILABLE},
	    {408, "get", "", CU_VAULTC_TIMEOUT, CU_ERR_TIMEOUT},
	    {302, "get", "", CU_VAULTC_BAD_RESPONSE, CU_ERR_UNAVAILABLE},
	    {200, "get", "", CU_VAULTC_OK, 0},
	};
	struct cu_vaultc_result res;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = cu_vaultc_classify(cases[i].status, cases[i].op,
		                           cases[i].body, strlen(cases[i].body),
		                           &res);
		assert_int_equal(r, cases[i].err);
		assert_int_equal(res.reason, cases[i].reason);
		assert_int_equal(cu_vaultc_is_denial(res.reason) +
		                     cu_vaultc_is_unreachable(res.reason),
		                 res.reason != CU_VAULTC_OK);
	}
	(void)state;
}

static void unwrap_result_is_decoded_and_blanked(void **state)
{
	char text[] = "{\"kid\":\"https://v/keys/k/"
	              "0123456789abcdef0123456789abcdef\","
	              "\"value\":\"AAECAwQFBgc\"}";
	char dup[] = "{\"value\":\"AAEC\",\"value\":\"AAEC\","
	             "\"kid\":\"https://v/keys/k/"
	             "0123456789abcdef0123456789abcdef\"}";
	unsigned char out[16];
	char ver[CU_VAULTC_VERSION_LEN + 1];
	size_t n = 0;

	assert_int_equal(cu_vaultc_parse_value(text, strlen(text), "k", out,
	                                       sizeof(out), &n, ver),
	                 0);
	assert_int_equal(n, 8);
	assert_int_equal(n, 8);
	assert_int_equal(out[7], 7);
	assert_string_equal(ver, "0123456789abcdef0123456789abcdef");
	assert_non_null(strstr(text, "\"value\":\"AAAAAAAAAAA\""));
	/* duplicate members are refused, and out is wiped */
	assert_int_equal(cu_vaultc_parse_value(dup, strlen(dup), NULL, out,
	                                       sizeof(out), &n, ver),
	                 CU_ERR_PARSE);
	assert_int_equal(out[1], 0);
	(void)state;
}

/* ---- round trips ------------------------------------------------------ */

static void rsa_and_oct_keys_wrap_and_unwrap_by_certificate(void **state)
{
	char kid[300], latest[300], ver[CU_VAULTC_VERSION_LEN + 1];
	unsigned char tk[32], w[CU_VAULTC_WRAPPED_MAX], *back;
	struct cu_vaultc_key key;
	struct cu_vaultc_result res;
	size_t wl = 0, bl = 0;

	back = cu_secmem_alloc(64);
	memset(tk, 0x5a, sizeof(tk));
	create_key(&g.main, "rsa1", "{\"kty\":\"RSA\",\"key_size\":2048}", kid,
	           sizeof(kid));
	grant(&g.main, "rsa1", "rsa1");
	latest_kid(&g.main, "rsa1", latest, sizeof(latest));

	assert_int_equal(cu_vaultc_get_key(g.store, latest, &key, &res), 0);
	assert_int_equal(key.kty, CU_VAULTC_KTY_RSA);
	assert_int_equal(key.bits, 2048);
	assert_true(key.enabled);
	assert_true(key.ops & CU_VAULTC_OP_WRAP);
	assert_true(key.ops & CU_VAULTC_OP_UNWRAP);
	assert_string_equal(key.recovery_level, "Recoverable");
	assert_int_equal(key.recoverable_days, 90);
	assert_non_null(strstr(kid, key.version));

	assert_int_equal(cu_vaultc_wrap(g.store, latest, CU_VAULTC_RSA_OAEP_256,
	                                tk, sizeof(tk), w, sizeof(w), &wl, ver,
	                                &res),
	                 0);
	assert_int_equal(wl, 256);
	assert_string_equal(ver, key.version);
	assert_int_equal(cu_vaultc_unwrap(g.store, kid, CU_VAULTC_RSA_OAEP_256,
	                                  w, wl, back, 64, &bl, ver, &res),
	                 0);
	assert_int_equal(bl, 32);
	assert_memory_equal(back, tk, 32);

	/* AES-256 (oct) with A256KW */
	create_key(&g.main, "aes1", "{\"kty\":\"oct\",\"key_size\":256}", kid,
	           sizeof(kid));
	grant(&g.main, "aes1", "aes1");
	assert_int_equal(cu_vaultc_get_key(g.store, kid, &key, &res), 0);
	assert_int_equal(key.kty, CU_VAULTC_KTY_OCT);
	assert_int_equal(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk,
	                                sizeof(tk), w, sizeof(w), &wl, NULL,
	                                &res),
	                 0);
	assert_int_equal(wl, 40);
	assert_int_equal(cu_vaultc_unwrap(g.store, kid, CU_VAULTC_A256KW, w, wl,
	                                  back, 64, &bl, NULL, &res),
	                 0);
	assert_memory_equal(back, tk, 32);
	/* too small an output buffer */
	assert_int_equal(cu_vaultc_unwrap(g.store, kid, CU_VAULTC_A256KW, w, wl,
	                                  back, 16, &bl, NULL, &res),
	                 CU_ERR_RANGE);
	/* a kid of another vault is refused before any call */
	assert_int_equal(
	    cu_vaultc_get_key(g.store, "https://elsewhere/keys/k", &key, &res),
	    CU_ERR_INVAL);
	cu_secmem_free(back, 64);
	(void)state;
}

static void second_call_reuses_the_connection(void **state)
{
	char name[32], kid[300];
	unsigned char tk[32] = {1}, w[64], back[64];
	struct cu_vaultc_key key;
	struct cu_vaultc_stats st;
	size_t wl, bl;
	cu_vaultc_t *c = store_client(g.main.url, g.ca, 0);

	oct_granted(name, sizeof(name), kid, sizeof(kid));
	assert_int_equal(cu_vaultc_get_key(c, kid, &key, NULL), 0);
	assert_int_equal(cu_vaultc_wrap(c, kid, CU_VAULTC_A256KW, tk, 32, w,
	                                sizeof(w), &wl, NULL, NULL),
	                 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(cu_vaultc_unwrap(c, kid, CU_VAULTC_A256KW, w,
		                                  wl, back, sizeof(back), &bl,
		                                  NULL, NULL),
		                 0);
	cu_vaultc_stats(c, &st);
	assert_int_equal(st.requests, 7);
	assert_int_equal(st.connections, 1);
	cu_vaultc_free(c);
	(void)state;
}

/* ---- denials ---------------------------------------------------------- */

static void expect(int r, int err, const struct cu_vaultc_result *res,
                   enum cu_vaultc_reason reason)
{
	if (r != err || res->reason != reason)
		print_error("got %s / %s (%ld %s: %s), want %s / %s\n",
		            cu_errname(r), cu_vaultc_reason_name(res->reason),
		            res->status, res->code, res->message,
		            cu_errname(err), cu_vaultc_reason_name(reason));
	assert_int_equal(r, err);
	assert_int_equal(res->reason, reason);
}

static void each_denial_is_classified(void **state)
{
	char name[32], kid[300], latest[300], bad[300];
	unsigned char tk[32] = {2}, w[64], back[64];
	struct cu_vaultc_result res;
	struct cu_vaultc_key key;
	size_t wl, bl;
	int64_t purge_at = 0;

	/* no role at all */
	snprintf(name, sizeof(name), "norole");
	create_key(&g.main, name, "{\"kty\":\"oct\"}", kid, sizeof(kid));
	expect(cu_vaultc_get_key(g.store, kid, &key, &res), CU_ERR_DENIED, &res,
	       CU_VAULTC_PERMISSION_DENIED);
	assert_int_equal(res.status, 403);
	expect(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk, 32, w,
	                      sizeof(w), &wl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_PERMISSION_DENIED);

	/* role removed: the very next call is denied */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	latest_kid(&g.main, name, latest, sizeof(latest));
	assert_int_equal(cu_vaultc_wrap(g.store, latest, CU_VAULTC_A256KW, tk,
	                                32, w, sizeof(w), &wl, NULL, &res),
	                 0);
	unassign(&g.main, name);
	expect(cu_vaultc_unwrap(g.store, kid, CU_VAULTC_A256KW, w, wl, back,
	                        sizeof(back), &bl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_PERMISSION_DENIED);
	assert_int_equal(back[0], 0); /* wiped */

	/* disabled */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	assert_int_equal(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk, 32,
	                                w, sizeof(w), &wl, NULL, &res),
	                 0);
	patch_key(&g.main, name, "{\"attributes\":{\"enabled\":false}}");
	expect(cu_vaultc_unwrap(g.store, kid, CU_VAULTC_A256KW, w, wl, back,
	                        sizeof(back), &bl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_KEY_DISABLED);
	assert_int_equal(cu_vaultc_get_key(g.store, kid, &key, &res), 0);
	assert_false(key.enabled);

	/* expired */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"attributes\":{\"exp\":1000}}");
	expect(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk, 32, w,
	                      sizeof(w), &wl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_KEY_EXPIRED);

	/* not yet valid */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"attributes\":{\"nbf\":4000000000}}");
	expect(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk, 32, w,
	                      sizeof(w), &wl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_KEY_NOT_YET_VALID);

	/* key_ops without wrapKey */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"key_ops\":[\"encrypt\",\"decrypt\"]}");
	expect(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk, 32, w,
	                      sizeof(w), &wl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_OP_NOT_ALLOWED);

	/* deleted: not found for the store, which sees it deleted (keys/read
	 * covers deleted keys, as in Azure) */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	{
		char path[128];
		snprintf(path, sizeof(path), "/keys/%s?api-version=7.4", name);
		ok(call(&g.main, "DELETE", path, NULL, NULL));
	}
	expect(cu_vaultc_wrap(g.store, kid, CU_VAULTC_A256KW, tk, 32, w,
	                      sizeof(w), &wl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_KEY_NOT_FOUND);
	assert_int_equal(res.status, 404);
	assert_int_equal(cu_vaultc_get_deleted(g.store, kid, &purge_at, &res),
	                 0);
	assert_int_equal(res.reason, CU_VAULTC_KEY_DELETED);
	assert_true(purge_at > 0);
	/* without a role on the key, the store may not see it */
	ok(call(&g.main, "DELETE", "/keys/norole?api-version=7.4", NULL, NULL));
	snprintf(bad, sizeof(bad), "%s/keys/norole", g.main.url);
	expect(cu_vaultc_get_deleted(g.store, bad, NULL, &res), CU_ERR_DENIED,
	       &res, CU_VAULTC_PERMISSION_DENIED);
	assert_int_equal(cu_vaultc_get_deleted(g.admin, bad, NULL, &res), 0);

	/* a version that does not exist */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	snprintf(bad, sizeof(bad), "%s/keys/%s/%032d", g.main.url, name, 0);
	expect(cu_vaultc_get_key(g.store, bad, &key, &res), CU_ERR_DENIED, &res,
	       CU_VAULTC_KEY_NOT_FOUND);
	expect(cu_vaultc_wrap(g.store, bad, CU_VAULTC_A256KW, tk, 32, w,
	                      sizeof(w), &wl, NULL, &res),
	       CU_ERR_DENIED, &res, CU_VAULTC_KEY_NOT_FOUND);

	/* a value the key did not wrap */
	memset(w, 7, 40);
	expect(cu_vaultc_unwrap(g.store, kid, CU_VAULTC_A256KW, w, 40, back,
	                        sizeof(back), &bl, NULL, &res),
	       CU_ERR_AUTH, &res, CU_VAULTC_UNWRAP_FAILED);

	/* a principal the vault does not know */
	{
		struct cu_vaultc_config c = {
		    .url = g.main.url, .ca_file = g.ca, .token = "not-a-token"};
		cu_vaultc_t *v = NULL;
		assert_int_equal(cu_vaultc_new(&c, &v), 0);
		expect(cu_vaultc_get_key(v, kid, &key, &res), CU_ERR_DENIED,
		       &res, CU_VAULTC_UNAUTHENTICATED);
		cu_vaultc_free(v);
	}
	(void)state;
}

/* ---- unreachable ------------------------------------------------------ */

static void each_kind_of_unreachable_is_classified(void **state)
{
	char url[128], kid[300], name[32];
	struct cu_vaultc_result res;
	struct cu_vaultc_key key;
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t l = sizeof(a);
	int64_t t0;
	int s;
	cu_vaultc_t *c;

	/* nothing listening: at once */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", closed_port());
	snprintf(kid, sizeof(kid), "%s/keys/k", url);
	c = store_client(url, g.ca, 0);
	t0 = now_ms();
	expect(cu_vaultc_get_key(c, kid, &key, &res), CU_ERR_UNAVAILABLE, &res,
	       CU_VAULTC_UNREACHABLE);
	assert_true(now_ms() - t0 < 1000);
	assert_true(cu_vaultc_is_unreachable(res.reason));
	cu_vaultc_free(c);

	/* accepts (the kernel does) but never answers: the bound holds */
	s = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s, 8), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&a, &l), 0);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(kid, sizeof(kid), "%s/keys/k", url);
	c = store_client(url, g.ca, 400);
	t0 = now_ms();
	expect(cu_vaultc_get_key(c, kid, &key, &res), CU_ERR_TIMEOUT, &res,
	       CU_VAULTC_TIMEOUT);
	assert_true(now_ms() - t0 >= 350);
	assert_true(now_ms() - t0 < 1500);
	cu_vaultc_free(c);
	close(s);

	/* the vault's certificate from a CA we do not trust */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	c = store_client(g.main.url, g.other_ca, 0);
	expect(cu_vaultc_get_key(c, kid, &key, &res), CU_ERR_UNAVAILABLE, &res,
	       CU_VAULTC_TLS_ERROR);
	assert_false(cu_vaultc_is_denial(res.reason));
	cu_vaultc_free(c);
	(void)state;
}

/* ---- validation ------------------------------------------------------- */

static void check(const char *kid, int err, enum cu_cmkcheck_reason reason)
{
	struct cu_cmkcheck_result out;
	int r = cu_cmkcheck_run(g.store, kid, NULL, 0, &out);

	if (r != err || out.reason != reason)
		print_error("%s: got %s / %s (%s), want %s\n", kid,
		            cu_errname(r), out.code, out.message,
		            cu_cmkcheck_reason_name(reason));
	assert_int_equal(r, err);
	assert_int_equal(out.reason, reason);
	assert_string_equal(out.code, cu_cmkcheck_reason_name(reason));
	assert_true(strlen(out.message) > 10);
}

static void validation_gives_each_reason(void **state)
{
	struct cu_cmkcheck_result out;
	char name[32], kid[300], latest[300];

	/* OK: RSA (made by the round-trip test) and oct, version resolved */
	latest_kid(&g.main, "rsa1", latest, sizeof(latest));
	assert_int_equal(cu_cmkcheck_run(g.store, latest, NULL, 0, &out), 0);
	assert_string_equal(out.code, "OK");
	assert_int_equal(strlen(out.version), 32);
	assert_int_equal(out.alg, CU_VAULTC_RSA_OAEP_256);
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	latest_kid(&g.main, name, latest, sizeof(latest));
	assert_int_equal(cu_cmkcheck_run(g.store, latest, NULL, 0, &out), 0);
	assert_int_equal(out.alg, CU_VAULTC_A256KW);
	assert_non_null(strstr(kid, out.version));

	/* without a role the vault does not say whether a key exists */
	latest_kid(&g.main, "nosuchkey", latest, sizeof(latest));
	check(latest, CU_ERR_DENIED, CU_CMK_PERMISSION_DENIED);
	grant(&g.main, "nosuchkey", "nosuchkey");
	check(latest, CU_ERR_DENIED, CU_CMK_KEY_NOT_FOUND);

	create_key(&g.main, "ungranted", "{\"kty\":\"oct\"}", kid, sizeof(kid));
	check(kid, CU_ERR_DENIED, CU_CMK_PERMISSION_DENIED);
	assert_int_equal(cu_cmkcheck_run(g.store, kid, NULL, 0, &out),
	                 CU_ERR_DENIED);
	assert_non_null(strstr(out.message, "grant"));
	assert_non_null(strstr(out.message, SVC_ROLE));
	assert_non_null(strstr(out.message, "/keys/ungranted"));

	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"attributes\":{\"enabled\":false}}");
	check(kid, CU_ERR_DENIED, CU_CMK_KEY_DISABLED);

	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"attributes\":{\"exp\":1000}}");
	check(kid, CU_ERR_DENIED, CU_CMK_KEY_EXPIRED);

	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"attributes\":{\"nbf\":4000000000}}");
	check(kid, CU_ERR_DENIED, CU_CMK_KEY_NOT_YET_VALID);

	oct_granted(name, sizeof(name), kid, sizeof(kid));
	patch_key(&g.main, name, "{\"key_ops\":[\"wrapKey\"]}");
	check(kid, CU_ERR_DENIED, CU_CMK_KEY_OPERATION_NOT_ALLOWED);

	create_key(&g.main, "ec1", "{\"kty\":\"EC\",\"crv\":\"P-256\"}", kid,
	           sizeof(kid));
	grant(&g.main, "ec1", "ec1");
	check(kid, CU_ERR_DENIED, CU_CMK_KEY_TYPE_NOT_SUPPORTED);

	/* deleted: not found, and the message says how to recover when
	 * the store may see deleted keys */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	{
		char path[128];
		snprintf(path, sizeof(path), "/keys/%s?api-version=7.4", name);
		ok(call(&g.main, "DELETE", path, NULL, NULL));
	}
	check(kid, CU_ERR_DENIED, CU_CMK_KEY_NOT_FOUND);
	assert_int_equal(cu_cmkcheck_run(g.admin, kid, NULL, 0, &out),
	                 CU_ERR_DENIED);
	assert_non_null(strstr(out.message, "recover"));

	/* unreachable and TLS */
	{
		char url[128];
		cu_vaultc_t *c;
		snprintf(url, sizeof(url), "https://127.0.0.1:%d",
		         closed_port());
		snprintf(latest, sizeof(latest), "%s/keys/k", url);
		c = store_client(url, g.ca, 0);
		assert_int_equal(cu_cmkcheck_run(c, latest, NULL, 0, &out),
		                 CU_ERR_UNAVAILABLE);
		assert_string_equal(out.code, "VaultUnreachable");
		cu_vaultc_free(c);
		c = store_client(g.main.url, g.other_ca, 0);
		latest_kid(&g.main, "rsa1", latest, sizeof(latest));
		assert_int_equal(cu_cmkcheck_run(c, latest, NULL, 0, &out),
		                 CU_ERR_UNAVAILABLE);
		assert_string_equal(out.code, "VaultTlsError");
		cu_vaultc_free(c);
	}
	/* a kid of another vault */
	assert_int_equal(
	    cu_cmkcheck_run(g.store, "https://x.example/keys/k", NULL, 0, &out),
	    CU_ERR_INVAL);
	(void)state;
}

static void vault_without_purge_protection_is_refused(void **state)
{
	struct vlt nopp = {0};
	struct cu_cmkcheck_result out;
	char kid[300];
	cu_vaultc_t *c;

	assert_int_equal(start_vault(&nopp, "nopp", 0), 0);
	register_store(&nopp);
	create_key(&nopp, "k1", "{\"kty\":\"oct\"}", kid, sizeof(kid));
	grant(&nopp, "k1", "k1");
	c = store_client(nopp.url, g.ca, 0);
	assert_int_equal(cu_cmkcheck_run(c, kid, NULL, 0, &out), CU_ERR_DENIED);
	assert_string_equal(out.code, "PurgeProtectionDisabled");
	assert_non_null(strstr(out.message, "purge protection"));
	/* turned on (for good): the same key passes */
	ok(call(&nopp, "PUT", "/admin/v1/settings",
	        "{\"purge_protection\":true}", NULL));
	assert_int_equal(cu_cmkcheck_run(c, kid, NULL, 0, &out), 0);
	/* a vault that stopped: unreachable, quickly */
	cu_vault_free(nopp.v);
	{
		struct cu_vaultc_result res;
		struct cu_vaultc_key key;
		int64_t t0 = now_ms();
		expect(cu_vaultc_get_key(c, kid, &key, &res),
		       CU_ERR_UNAVAILABLE, &res, CU_VAULTC_UNREACHABLE);
		assert_true(now_ms() - t0 < 1000);
	}
	cu_vaultc_free(c);
	(void)state;
}

/* ---- the vault-backed root -------------------------------------------- */

static void vault_root_wraps_unwraps_and_maps_errors(void **state)
{
	struct cu_skeys_root root = {0}, pinned = {0}, gone = {0};
	unsigned char tk[32], w[600], w2[600], *back;
	char name[32], kid[300], latest[300], url[128];
	char ver[CU_VAULTC_VERSION_LEN + 1];
	struct cu_vaultc_result res;
	size_t wl = 0, wl2 = 0, bl = 0;
	cu_smeta_t *meta = NULL;
	cu_skeys_t *keys = NULL;
	cu_vaultc_t *c;

	back = cu_secmem_alloc(64);
	memset(tk, 0xa5, sizeof(tk));
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	latest_kid(&g.main, name, latest, sizeof(latest));
	assert_int_equal(cu_vroot_new(g.store, latest, CU_VAULTC_A256KW, &root),
	                 0);
	assert_true(cu_vroot_is(&root));
	assert_string_equal(root.name, latest);
	assert_int_equal(root.wrap(root.ctx, tk, 32, w, sizeof(w), &wl), 0);
	assert_int_equal(wl, CU_VROOT_HEADER + 40);
	assert_int_equal(cu_vroot_last(&root, &res, ver), 0);
	assert_non_null(strstr(kid, ver));

	/* a new version: what the old one wrapped still opens */
	{
		char path[128];
		snprintf(path, sizeof(path), "/keys/%s/rotate?api-version=7.4",
		         name);
		ok(call(&g.main, "POST", path, NULL, NULL));
	}
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 64, &bl), 0);
	assert_int_equal(bl, 32);
	assert_memory_equal(back, tk, 32);
	assert_int_equal(root.wrap(root.ctx, tk, 32, w2, sizeof(w2), &wl2), 0);
	assert_memory_not_equal(w + 1, w2 + 1, 16); /* the new version */

	/* pinned to a version: the vault's output as is */
	assert_int_equal(cu_vroot_new(g.store, kid, CU_VAULTC_A256KW, &pinned),
	                 0);
	assert_int_equal(pinned.wrap(pinned.ctx, tk, 32, w2, sizeof(w2), &wl2),
	                 0);
	assert_int_equal(wl2, 40);
	assert_int_equal(pinned.unwrap(pinned.ctx, w2, wl2, back, 64, &bl), 0);
	assert_memory_equal(back, tk, 32);

	/* altered: a denial (CU_ERR_AUTH) */
	w[wl - 1] ^= 1;
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 64, &bl),
	                 CU_ERR_AUTH);
	w[wl - 1] ^= 1;
	w[0] = 9;
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 64, &bl),
	                 CU_ERR_AUTH);
	w[0] = CU_VROOT_FORMAT_V1;
	/* a key file's wrap (40 bytes) that starts like one of ours: refused
	 * here, the vault is not asked (it would say KeyNotFound) */
	{
		unsigned char kf[40];

		memset(kf, 0x5a, sizeof(kf));
		kf[0] = CU_VROOT_FORMAT_V1;
		assert_int_equal(
		    root.unwrap(root.ctx, kf, sizeof(kf), back, 64, &bl),
		    CU_ERR_AUTH);
		assert_int_equal(cu_vroot_last(&root, &res, NULL), 0);
		assert_int_equal(res.reason, CU_VAULTC_UNWRAP_FAILED);
	}

	/* the key hierarchy over it: a tenant key made and wrapped */
	assert_int_equal(cu_smeta_open(":memory:", &meta), 0);
	{
		struct cu_skeys_root r2 = {0};
		unsigned char tw[CU_SKEYS_WRAPPED_MAX];
		size_t twl = 0;
		assert_int_equal(
		    cu_vroot_new(g.store, kid, CU_VAULTC_A256KW, &r2), 0);
		assert_int_equal(cu_skeys_new(meta, &r2, 60, &keys), 0);
		assert_int_equal(cu_skeys_tk_new(keys, tw, sizeof(tw), &twl),
		                 0);
		assert_int_equal(twl, 40);
		assert_string_equal(cu_skeys_root_name(keys), kid);
	}

	/* role removed: denial */
	unassign(&g.main, name);
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 64, &bl),
	                 CU_ERR_AUTH);
	assert_int_equal(cu_vroot_last(&root, &res, NULL), 0);
	assert_int_equal(res.reason, CU_VAULTC_PERMISSION_DENIED);
	assert_int_equal(root.wrap(root.ctx, tk, 32, w2, sizeof(w2), &wl2),
	                 CU_ERR_AUTH);

	/* unreachable: an outage, not a denial */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d", closed_port());
	snprintf(latest, sizeof(latest), "%s/keys/%s", url, name);
	c = store_client(url, g.ca, 0);
	assert_int_equal(cu_vroot_new(c, latest, CU_VAULTC_A256KW, &gone), 0);
	cu_vaultc_free(c); /* the root holds its own reference */
	assert_int_equal(gone.unwrap(gone.ctx, w, wl, back, 64, &bl),
	                 CU_ERR_UNAVAILABLE);
	assert_int_equal(gone.wrap(gone.ctx, tk, 32, w2, sizeof(w2), &wl2),
	                 CU_ERR_UNAVAILABLE);
	/* a kid of another vault is refused */
	assert_int_equal(cu_vroot_new(g.store, latest, CU_VAULTC_A256KW, &gone),
	                 CU_ERR_INVAL);

	gone.free(gone.ctx);
	pinned.free(pinned.ctx);
	root.free(root.ctx);
	cu_skeys_free(keys);
	cu_smeta_close(meta);
	cu_secmem_free(back, 64);
	(void)state;
}

/* ---- the operator's keys (store/oproot) ----------------------------- */

static void oproot_config(struct cu_oproot_config *oc, const char *kid,
                          const char *file)
{
	memset(oc, 0, sizeof(*oc));
	oc->which = CU_OPROOT_SYSTEM;
	oc->kid = kid;
	oc->key_file = file;
	oc->vault_ca_file = g.ca;
	oc->client_cert_file = g.cert;
	oc->client_key_file = g.key;
}

static void operator_key_is_validated_and_its_denials_are_denials(void **state)
{
	struct cu_oproot_config oc;
	struct cu_skeys_root root = {0};
	unsigned char tk[32], w[CU_SKEYS_WRAPPED_MAX], *back;
	unsigned char w2[CU_SKEYS_WRAPPED_MAX];
	char name[32], kid[300], latest[300], msg[CU_OPROOT_MSG_MAX];
	size_t wl = 0, wl2 = 0, bl = 0;

	back = cu_secmem_alloc(32);
	memset(tk, 0x5a, sizeof(tk));
	/* a key the store holds no role on: refused, naming the role */
	snprintf(name, sizeof(name), "sk%d", ++g.n);
	create_key(&g.main, name, "{\"kty\":\"RSA\",\"key_size\":2048}", kid,
	           sizeof(kid));
	latest_kid(&g.main, name, latest, sizeof(latest));
	oproot_config(&oc, latest, NULL);
	assert_int_equal(cu_oproot_open(&oc, &root, msg, sizeof(msg)),
	                 CU_ERR_DENIED);
	assert_non_null(strstr(msg, "PermissionDenied"));
	assert_non_null(
	    strstr(msg, "Key Vault Crypto Service Encryption User on /keys/"));
	/* without the store's identity */
	oc.client_cert_file = NULL;
	assert_int_equal(cu_oproot_open(&oc, &root, msg, sizeof(msg)),
	                 CU_ERR_INVAL);
	assert_non_null(strstr(msg, "--client-cert"));
	/* a disabled key */
	oproot_config(&oc, latest, NULL);
	grant(&g.main, name, name);
	patch_key(&g.main, name, "{\"attributes\":{\"enabled\":false}}");
	assert_int_equal(cu_oproot_open(&oc, &root, msg, sizeof(msg)),
	                 CU_ERR_DENIED);
	assert_non_null(strstr(msg, "KeyDisabled"));
	patch_key(&g.main, name, "{\"attributes\":{\"enabled\":true}}");
	/* usable: a root of the key hierarchy */
	assert_int_equal(cu_oproot_open(&oc, &root, msg, sizeof(msg)), 0);
	assert_true(cu_oproot_is_vault(&root));
	assert_string_equal(root.name, CU_SMETA_ROOT_SYSTEM);
	assert_int_equal(root.wrap(root.ctx, tk, 32, w, sizeof(w), &wl), 0);
	assert_int_equal(wl, CU_VROOT_HEADER + 256);
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 32, &bl), 0);
	assert_memory_equal(back, tk, 32);
	/* an altered value stays an authentication failure ... */
	w[wl - 1] ^= 1;
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 32, &bl),
	                 CU_ERR_AUTH);
	w[wl - 1] ^= 1;
	/* ... the vault refusing the store is a denial, not a bad value */
	unassign(&g.main, name);
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 32, &bl),
	                 CU_ERR_DENIED);
	grant(&g.main, name, name);
	/* for a moment the denial is answered without asking the vault ...
	 */
	assert_int_equal(root.wrap(root.ctx, tk, 32, w2, sizeof(w2), &wl2),
	                 CU_ERR_DENIED);
	/* ... then the vault is asked again: access restored */
	usleep((CU_OPROOT_HOLD_MS + 100) * 1000);
	assert_int_equal(root.unwrap(root.ctx, w, wl, back, 32, &bl), 0);
	assert_memory_equal(back, tk, 32);
	root.free(root.ctx);
	/* a vault that does not answer */
	snprintf(latest, sizeof(latest), "https://127.0.0.1:%d/keys/%s",
	         closed_port(), name);
	oproot_config(&oc, latest, NULL);
	assert_int_equal(cu_oproot_open(&oc, &root, msg, sizeof(msg)),
	                 CU_ERR_UNAVAILABLE);
	assert_non_null(strstr(msg, "VaultUnreachable"));
	/* a key file root is not a vault root */
	{
		char file[256];

		snprintf(file, sizeof(file), "%s/sk-file-%d.key", g.dir, ++g.n);
		oproot_config(&oc, NULL, file);
		assert_int_equal(cu_oproot_open(&oc, &root, msg, sizeof(msg)),
		                 0);
		assert_false(cu_oproot_is_vault(&root));
		root.free(root.ctx);
	}
	cu_secmem_free(back, 32);
	(void)state;
}

/* TK (tenant, version) in clear through a fresh hierarchy over root
 * (taken). */
static void tk_under(cu_smeta_t *meta, struct cu_skeys_root *root,
                     const char *tenant, uint32_t version, unsigned char *tk)
{
	cu_skeys_t *keys = NULL;

	assert_int_equal(cu_skeys_new(meta, root, 60, &keys), 0);
	assert_int_equal(cu_skeys_tk_plain(keys, tenant, version, tk), 0);
	cu_skeys_free(keys);
}

static void tenant_keys_move_between_the_key_file_and_the_vault(void **state)
{
	struct cu_oproot_config file_cfg, vault_cfg;
	struct cu_skeys_root froot, vroot;
	unsigned char *tk1, *tk2, *got;
	unsigned char w[CU_SKEYS_WRAPPED_MAX];
	char name[32], latest[300], file[256], file2[256], rec[400];
	char msg[CU_OPROOT_MSG_MAX];
	cu_smeta_t *meta = NULL;
	cu_skeys_t *keys = NULL;
	size_t n = 99, wl = 0;

	tk1 = cu_secmem_alloc(32);
	tk2 = cu_secmem_alloc(32);
	got = cu_secmem_alloc(32);
	oct_granted(name, sizeof(name), latest, sizeof(latest));
	latest_kid(&g.main, name, latest, sizeof(latest));
	snprintf(file, sizeof(file), "%s/system-%d.key", g.dir, ++g.n);
	snprintf(file2, sizeof(file2), "%s/system-%d.key", g.dir, ++g.n);
	oproot_config(&file_cfg, NULL, file);
	oproot_config(&vault_cfg, latest, file);
	assert_int_equal(cu_smeta_open(":memory:", &meta), 0);

	/* a key-file store with two tenants, one with two TK versions */
	assert_int_equal(cu_oproot_open(&file_cfg, &froot, msg, sizeof(msg)),
	                 0);
	assert_int_equal(
	    cu_oproot_adopt(meta, &file_cfg, &froot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cu_skeys_new(meta, &froot, 60, &keys), 0);
	assert_int_equal(skfx_tenant(meta, keys, "ta", "ta"), 0);
	assert_int_equal(skfx_tenant(meta, keys, "tb", "tb"), 0);
	assert_int_equal(cu_skeys_tk_new(keys, w, sizeof(w), &wl), 0);
	assert_int_equal(
	    cu_smeta_tk_put(meta, "ta", 2, w, wl, CU_SMETA_ROOT_SYSTEM), 0);
	assert_int_equal(cu_skeys_tk_plain(keys, "ta", 1, tk1), 0);
	assert_int_equal(cu_skeys_tk_plain(keys, "ta", 2, tk2), 0);
	cu_skeys_free(keys);
	/* never recorded: the key file */
	assert_int_equal(
	    cu_smeta_setting_get(meta, "system_key", rec, sizeof(rec)),
	    CU_ERR_NOTFOUND);

	/* to the vault: every wrap re-wrapped, the same TKs */
	assert_int_equal(cu_oproot_open(&vault_cfg, &vroot, msg, sizeof(msg)),
	                 0);
	assert_int_equal(
	    cu_oproot_adopt(meta, &vault_cfg, &vroot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 3);
	assert_int_equal(
	    cu_smeta_setting_get(meta, "system_key", rec, sizeof(rec)), 0);
	assert_string_equal(rec, latest);
	/* again: nothing to do */
	assert_int_equal(
	    cu_oproot_adopt(meta, &vault_cfg, &vroot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 0);
	tk_under(meta, &vroot, "ta", 1, got);
	assert_memory_equal(got, tk1, 32);
	assert_int_equal(cu_oproot_open(&vault_cfg, &vroot, msg, sizeof(msg)),
	                 0);
	tk_under(meta, &vroot, "ta", 2, got);
	assert_memory_equal(got, tk2, 32);
	/* the key file no longer opens them */
	assert_int_equal(cu_oproot_open(&file_cfg, &froot, msg, sizeof(msg)),
	                 0);
	assert_int_equal(cu_skeys_new(meta, &froot, 60, &keys), 0);
	assert_int_not_equal(cu_skeys_tk_plain(keys, "ta", 1, got), 0);
	cu_skeys_free(keys);

	/* back to a (new) key file while the vault key cannot be used:
	 * refused, naming the key it needs; nothing changed */
	oproot_config(&file_cfg, NULL, file2);
	assert_int_equal(cu_oproot_open(&file_cfg, &froot, msg, sizeof(msg)),
	                 0);
	unassign(&g.main, name);
	assert_int_equal(
	    cu_oproot_adopt(meta, &file_cfg, &froot, &n, msg, sizeof(msg)),
	    CU_ERR_STATE);
	assert_non_null(strstr(msg, latest));
	assert_non_null(strstr(msg, "--system-key"));
	assert_int_equal(
	    cu_smeta_setting_get(meta, "system_key", rec, sizeof(rec)), 0);
	assert_string_equal(rec, latest);
	/* with it: re-wrapped under the new key file */
	grant(&g.main, name, name);
	assert_int_equal(
	    cu_oproot_adopt(meta, &file_cfg, &froot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 3);
	tk_under(meta, &froot, "ta", 2, got);
	assert_memory_equal(got, tk2, 32);

	/* recorded under a key file that is gone: refused, never a fresh
	 * key silently made */
	unlink(file);
	assert_int_equal(cu_smeta_setting_set(meta, "system_key", "file"), 0);
	vault_cfg.key_file = file;
	assert_int_equal(cu_oproot_open(&vault_cfg, &vroot, msg, sizeof(msg)),
	                 0);
	assert_int_equal(
	    cu_oproot_adopt(meta, &vault_cfg, &vroot, &n, msg, sizeof(msg)),
	    CU_ERR_STATE);
	assert_non_null(strstr(msg, "missing"));
	assert_int_equal(access(file, F_OK), -1);
	vroot.free(vroot.ctx);

	cu_smeta_close(meta);
	cu_secmem_free(tk1, 32);
	cu_secmem_free(tk2, 32);
	cu_secmem_free(got, 32);
	(void)state;
}

/* A vault root that follows the latest version reads a wrap's first byte
 * as its format: a key-file wrap that starts with that byte (1 in 256)
 * names a version the key does not have. Adopting the vault key probes
 * such a wrap; the vault's KeyNotFound says it is not under that key,
 * not that the store was denied it. */
static void a_key_file_wrap_that_reads_as_a_vault_header_moves_too(void **state)
{
	struct cu_oproot_config file_cfg, vault_cfg;
	struct cu_skeys_root froot, vroot;
	unsigned char *tk, *got;
	char name[32], latest[300], file[256], msg[CU_OPROOT_MSG_MAX];
	cu_smeta_t *meta = NULL;
	cu_skeys_t *keys = NULL;
	size_t n = 99;

	tk = cu_secmem_alloc(32);
	got = cu_secmem_alloc(32);
	oct_granted(name, sizeof(name), latest, sizeof(latest));
	latest_kid(&g.main, name, latest, sizeof(latest));
	snprintf(file, sizeof(file), "%s/system-%d.key", g.dir, ++g.n);
	oproot_config(&file_cfg, NULL, file);
	oproot_config(&vault_cfg, latest, file);
	assert_int_equal(cu_smeta_open(":memory:", &meta), 0);
	assert_int_equal(cu_oproot_open(&file_cfg, &froot, msg, sizeof(msg)),
	                 0);
	assert_int_equal(cu_skeys_new(meta, &froot, 60, &keys), 0);
	assert_int_equal(
	    skfx_tenant_first(meta, keys, "ta", "ta", CU_VROOT_FORMAT_V1), 0);
	assert_int_equal(cu_skeys_tk_plain(keys, "ta", 1, tk), 0);
	cu_skeys_free(keys);

	assert_int_equal(cu_oproot_open(&vault_cfg, &vroot, msg, sizeof(msg)),
	                 0);
	assert_int_equal(
	    cu_oproot_adopt(meta, &vault_cfg, &vroot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	tk_under(meta, &vroot, "ta", 1, got);
	assert_memory_equal(got, tk, 32);

	cu_smeta_close(meta);
	cu_secmem_free(tk, 32);
	cu_secmem_free(got, 32);
	(void)state;
}

/* The wraps under one vault key name its version: another key has no
 * such version, which is no reason to refuse moving to that key. */
static void tenant_keys_move_from_one_vault_key_to_another(void **state)
{
	struct cu_oproot_config a_cfg, b_cfg;
	struct cu_skeys_root aroot, broot;
	unsigned char *tk, *got;
	char a[32], b[32], ka[300], kb[300], file[256], rec[400];
	char msg[CU_OPROOT_MSG_MAX];
	cu_smeta_t *meta = NULL;
	cu_skeys_t *keys = NULL;
	size_t n = 99;

	tk = cu_secmem_alloc(32);
	got = cu_secmem_alloc(32);
	oct_granted(a, sizeof(a), ka, sizeof(ka));
	latest_kid(&g.main, a, ka, sizeof(ka));
	oct_granted(b, sizeof(b), kb, sizeof(kb));
	latest_kid(&g.main, b, kb, sizeof(kb));
	snprintf(file, sizeof(file), "%s/system-%d.key", g.dir, ++g.n);
	oproot_config(&a_cfg, ka, file);
	oproot_config(&b_cfg, kb, file);
	assert_int_equal(cu_smeta_open(":memory:", &meta), 0);

	/* a store whose tenant keys are under vault key a */
	assert_int_equal(cu_oproot_open(&a_cfg, &aroot, msg, sizeof(msg)), 0);
	assert_int_equal(
	    cu_oproot_adopt(meta, &a_cfg, &aroot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(cu_skeys_new(meta, &aroot, 60, &keys), 0);
	assert_int_equal(skfx_tenant(meta, keys, "ta", "ta"), 0);
	assert_int_equal(cu_skeys_tk_plain(keys, "ta", 1, tk), 0);
	cu_skeys_free(keys);

	/* to vault key b: re-wrapped, the same TK */
	assert_int_equal(cu_oproot_open(&b_cfg, &broot, msg, sizeof(msg)), 0);
	assert_int_equal(
	    cu_oproot_adopt(meta, &b_cfg, &broot, &n, msg, sizeof(msg)), 0);
	assert_int_equal(n, 1);
	assert_int_equal(
	    cu_smeta_setting_get(meta, "system_key", rec, sizeof(rec)), 0);
	assert_string_equal(rec, kb);
	tk_under(meta, &broot, "ta", 1, got);
	assert_memory_equal(got, tk, 32);

	cu_smeta_close(meta);
	cu_secmem_free(tk, 32);
	cu_secmem_free(got, 32);
	(void)state;
}

/* ---- events ----------------------------------------------------------- */

static void events_are_read_with_long_poll(void **state)
{
	struct cu_vaultc_event *ev = NULL;
	struct cu_vaultc_result res;
	size_t n = 0;
	int64_t last = 0, last2 = 0, t0;
	char name[32], kid[300];
	int found = 0;

	assert_int_equal(
	    cu_vaultc_events(g.admin, 0, 0, 1000, &ev, &n, &last, &res), 0);
	assert_true(n > 0);
	assert_int_equal(ev[n - 1].seq, last);
	cu_vaultc_events_free(ev);

	/* nothing new: the long-poll waits its time, then answers empty */
	t0 = now_ms();
	assert_int_equal(
	    cu_vaultc_events(g.admin, last, 1, 0, &ev, &n, &last2, &res), 0);
	assert_int_equal(n, 0);
	assert_null(ev);
	assert_int_equal(last2, last);
	assert_true(now_ms() - t0 >= 900);

	/* new key, role, role removed */
	oct_granted(name, sizeof(name), kid, sizeof(kid));
	unassign(&g.main, name);
	assert_int_equal(
	    cu_vaultc_events(g.admin, last, 1, 0, &ev, &n, &last2, &res), 0);
	assert_true(n >= 3);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ev[i].key, name) != 0)
			continue;
		if (strcmp(ev[i].type, "key_created") == 0 &&
		    strlen(ev[i].version) == 32)
			found |= 1;
		if (strcmp(ev[i].type, "role_removed") == 0 &&
		    strcmp(ev[i].principal, "custos-store") == 0)
			found |= 2;
	}
	assert_int_equal(found, 3);
	assert_true(last2 > last);
	cu_vaultc_events_free(ev);

	/* any principal may read the stream, filtered to the keys it
	 * holds a role on and the role events naming it: the store, its
	 * role gone, still sees its own role_removed, nothing else */
	assert_int_equal(
	    cu_vaultc_events(g.store, last, 0, 0, &ev, &n, &last2, &res), 0);
	found = 0;
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(strncmp(ev[i].type, "role_", 5), 0);
		assert_string_equal(ev[i].principal, "custos-store");
		if (strcmp(ev[i].type, "role_removed") == 0)
			found = 1;
	}
	assert_int_equal(found, 1);
	cu_vaultc_events_free(ev);
	assert_int_equal(
	    cu_vaultc_events(g.admin, -1, 0, 0, &ev, &n, &last2, &res),
	    CU_ERR_INVAL);
	(void)state;
}

static void configuration_is_checked(void **state)
{
	struct cu_vaultc_config c = {0};
	cu_vaultc_t *v = NULL;

	c.url = "http://127.0.0.1:1";
	c.token = "t";
	assert_int_equal(cu_vaultc_new(&c, &v), CU_ERR_INVAL);
	c.url = "https://127.0.0.1:1/keys";
	assert_int_equal(cu_vaultc_new(&c, &v), CU_ERR_INVAL);
	c.url = "https://127.0.0.1:1/";
	c.token = NULL;
	assert_int_equal(cu_vaultc_new(&c, &v), CU_ERR_INVAL); /* no auth */
	c.cert_file = g.cert;
	assert_int_equal(cu_vaultc_new(&c, &v), CU_ERR_INVAL); /* no key */
	c.key_file = g.key;
	assert_int_equal(cu_vaultc_new(&c, &v), 0);
	assert_string_equal(cu_vaultc_origin(v), "https://127.0.0.1:1");
	cu_vaultc_free(v);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(kid_parser_is_strict),
	    cmocka_unit_test(error_bodies_are_classified),
	    cmocka_unit_test(unwrap_result_is_decoded_and_blanked),
	    cmocka_unit_test(configuration_is_checked),
	    cmocka_unit_test(rsa_and_oct_keys_wrap_and_unwrap_by_certificate),
	    cmocka_unit_test(second_call_reuses_the_connection),
	    cmocka_unit_test(each_denial_is_classified),
	    cmocka_unit_test(each_kind_of_unreachable_is_classified),
	    cmocka_unit_test(validation_gives_each_reason),
	    cmocka_unit_test(vault_without_purge_protection_is_refused),
	    cmocka_unit_test(vault_root_wraps_unwraps_and_maps_errors),
	    cmocka_unit_test(
	        operator_key_is_validated_and_its_denials_are_denials),
	    cmocka_unit_test(
	        tenant_keys_move_between_the_key_file_and_the_vault),
	    cmocka_unit_test(
	        a_key_file_wrap_that_reads_as_a_vault_header_moves_too),
	    cmocka_unit_test(tenant_keys_move_from_one_vault_key_to_another),
	    cmocka_unit_test(events_are_read_with_long_poll),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

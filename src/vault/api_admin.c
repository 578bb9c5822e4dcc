/* api_admin.c - custos's own vault admin API (DESIGN.md section 7):
 * settings, principals, role assignments, the audit log and the key event
 * stream (long-poll JSON or server-sent events). Key Vault Administrator
 * only, but for the event stream, which any principal may read filtered
 * to the keys it holds a role on (event_visible). */
#include "core/err.h"
#include "core/secmem.h"
#include "vault/api_internal.h"
#include "vault/audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ADMIN_BODY_MAX   (16 * 1024)
#define LIST_MAX         1000
#define LONGPOLL_MAX_S   30
#define SSE_HEARTBEAT_MS 5000
#define SSE_MAX_S        3600

static int bad(cu_http_req_t *req, const char *msg)
{
	cu_vapi_error(req, 400, "BadParameter", msg);
	return 0;
}

static json_t *settings_json(const struct cu_vks_settings *s)
{
	return json_pack("{s:i,s:b,s:s}", "soft_delete_retention_days",
	                 s->retention_days, "purge_protection",
	                 s->purge_protection, "recovery_level",
	                 cu_vks_recovery_level(s));
}

static int get_settings(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_settings s;
	int r = cu_vks_settings_get(vr->api->vks, &s);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_ok(req, 200, settings_json(&s));
}

static int put_settings(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	struct cu_vks_settings s;
	json_t *body = NULL, *d, *p;
	int r;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	if ((r = cu_vks_settings_get(vr->api->vks, &s)) != 0) {
		r = cu_vapi_fail(req, r, NULL);
		goto out;
	}
	d = json_object_get(body, "soft_delete_retention_days");
	p = json_object_get(body, "purge_protection");
	if ((d != NULL && !json_is_integer(d)) ||
	    (p != NULL && !json_is_boolean(p))) {
		r = bad(req, "soft_delete_retention_days must be an integer "
		             "and purge_protection a boolean");
		goto out;
	}
	if (d != NULL) {
		json_int_t v = json_integer_value(d);
		if (v < CU_VKS_RETENTION_MIN || v > CU_VKS_RETENTION_MAX) {
			r = bad(req, "soft_delete_retention_days must be from "
			             "7 to 90");
			goto out;
		}
		s.retention_days = (int)v;
	}
	if (p != NULL)
		s.purge_protection = json_is_true(p);
	r = cu_vks_settings_set(vr->api->vks, &s);
	if (r == CU_ERR_STATE)
		r = cu_vapi_error(req, 409, "Conflict",
		                  "purge protection is on and cannot be "
		                  "turned off");
	else if (r != 0)
		r = cu_vapi_fail(req, r, NULL);
	else
		r = cu_vapi_ok(req, 200, settings_json(&s));
out:
	json_decref(body);
	return r;
}

static int hexbytes(const char *s, unsigned char *out, size_t n)
{
	if (s == NULL || strlen(s) != 2 * n)
		return CU_ERR_PARSE;
	for (size_t i = 0; i < 2 * n; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		        : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                               : -1;
		if (v < 0)
			return CU_ERR_PARSE;
		if (i % 2 == 0)
			out[i / 2] = (unsigned char)(v << 4);
		else
			out[i / 2] |= (unsigned char)v;
	}
	return 0;
}

static int put_principal(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	const char *name = cu_http_req_param(req, "pname");
	char token[CU_VRBAC_TOKEN_LEN + 1];
	unsigned char fp[32];
	json_t *body = NULL;
	const char *auth, *cert;
	int r;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	if (name == NULL || !cu_vrbac_name_valid(name, strlen(name))) {
		r = bad(req, "principal names are 1-127 of A-Z a-z 0-9 . _ -");
		goto out;
	}
	auth = json_string_value(json_object_get(body, "auth"));
	if (auth != NULL && strcmp(auth, "token") == 0) {
		if ((r = cu_vrbac_principal_token(vr->api->vks, name, token)) !=
		    0) {
			r = cu_vapi_fail(req, r, NULL);
			goto out;
		}
		r = cu_vapi_ok(req, 200,
		               json_pack("{s:s,s:s,s:s}", "name", name, "auth",
		                         "token", "token", token));
		cu_memzero(token, sizeof(token));
	} else if (auth != NULL && strcmp(auth, "certificate") == 0) {
		cert = json_string_value(
		    json_object_get(body, "certificate_sha256"));
		if (hexbytes(cert, fp, sizeof(fp)) != 0) {
			r = bad(req,
			        "certificate_sha256 must be 64 hex digits");
			goto out;
		}
		r = cu_vrbac_principal_cert(vr->api->vks, name, fp);
		if (r == CU_ERR_EXISTS)
			r = cu_vapi_error(req, 409, "Conflict",
			                  "another principal has this "
			                  "certificate");
		else if (r != 0)
			r = cu_vapi_fail(req, r, NULL);
		else
			r = cu_vapi_ok(req, 200,
			               json_pack("{s:s,s:s,s:s}", "name", name,
			                         "auth", "certificate",
			                         "certificate_sha256", cert));
	} else {
		r = bad(req, "auth must be \"token\" or \"certificate\"");
	}
out:
	json_decref(body);
	return r;
}

static int delete_principal(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	int r = cu_vrbac_principal_delete(vr->api->vks,
	                                  cu_http_req_param(req, "pname"));

	if (r == CU_ERR_NOTFOUND)
		return cu_vapi_error(req, 404, "NotFound", "no such principal");
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_no_content(req);
}

static int put_assignment(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	const char *id = cu_http_req_param(req, "id");
	const char *principal, *role, *scope;
	json_t *body = NULL;
	int r;

	if (cu_vapi_body(req, &body) != 0)
		return 0;
	principal = json_string_value(json_object_get(body, "principal"));
	role = json_string_value(json_object_get(body, "role"));
	scope = json_string_value(json_object_get(body, "scope"));
	if (scope == NULL)
		scope = "/";
	if (principal == NULL || role == NULL ||
	    cu_vrbac_role_perms(role) == 0) {
		r = bad(req, "principal and role are required; role is one of "
		             "Key Vault Administrator, Key Vault Crypto "
		             "Officer, Key Vault Crypto User, Key Vault Crypto "
		             "Service Encryption User, Key Vault Reader");
		goto out;
	}
	r = cu_vrbac_assign(vr->api->vks, id, principal, role, scope);
	if (r == CU_ERR_INVAL)
		r = bad(req, "bad assignment id or scope (\"/\" or "
		             "\"/keys/NAME\")");
	else if (r == CU_ERR_NOTFOUND)
		r = cu_vapi_error(req, 404, "NotFound", "no such principal");
	else if (r != 0)
		r = cu_vapi_fail(req, r, NULL);
	else
		r = cu_vapi_ok(req, 200,
		               json_pack("{s:s,s:s,s:s,s:s}", "id", id,
		                         "principal", principal, "role", role,
		                         "scope", scope));
out:
	json_decref(body);
	return r;
}

static int delete_assignment(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	int r = cu_vrbac_unassign(vr->api->vks, cu_http_req_param(req, "id"));

	if (r == CU_ERR_NOTFOUND)
		return cu_vapi_error(req, 404, "NotFound",
		                     "no such role assignment");
	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_no_content(req);
}

static int list_assignments(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	json_t *arr = NULL;
	int r = cu_vrbac_list(vr->api->vks, &arr);

	if (r != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_ok(req, 200, json_pack("{s:o}", "value", arr));
}

static int get_audit(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	int64_t since, max;
	json_t *arr = NULL;
	int r;

	if (cu_vapi_int_query(req, "since", 0, INT64_MAX / 2, 0, &since) != 0 ||
	    cu_vapi_int_query(req, "max", 1, LIST_MAX, LIST_MAX, &max) != 0)
		return 0;
	if ((r = cu_vaudit_list(cu_vks_audit_db(vr->api->vks), since, max,
	                        &arr)) != 0)
		return cu_vapi_fail(req, r, NULL);
	return cu_vapi_ok(req, 200, json_pack("{s:o}", "value", arr));
}

static int verify_audit(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	int64_t count = 0, bad_seq = 0;
	int r =
	    cu_vaudit_verify(cu_vks_audit_db(vr->api->vks), &count, &bad_seq);

	if (r == 0)
		return cu_vapi_ok(req, 200,
		                  json_pack("{s:b,s:I}", "ok", 1, "records",
		                            (json_int_t)count));
	if (r == CU_ERR_AUTH)
		return cu_vapi_ok(req, 200,
		                  json_pack("{s:b,s:I}", "ok", 0, "first_bad",
		                            (json_int_t)bad_seq));
	return cu_vapi_fail(req, r, NULL);
}

/* Who may see which key event. An administrator sees every event; any
 * other principal sees the events of keys it holds a role on (at vault
 * scope or the key's) and the role events that name it, even once the
 * role is gone (a service learns of its own revocation that way), and
 * nothing else: not other principals' role changes, not vault-wide
 * events. */
static int holds_role(cu_vks_t *vks, const char *principal, const char *key)
{
	static const unsigned perms[] = {
	    CU_VPERM_READ,    CU_VPERM_WRAP, CU_VPERM_UNWRAP, CU_VPERM_ENCRYPT,
	    CU_VPERM_DECRYPT, CU_VPERM_SIGN, CU_VPERM_VERIFY,
	};

	for (size_t i = 0; i < sizeof(perms) / sizeof(perms[0]); i++)
		if (cu_vrbac_check(vks, principal, perms[i], key) == 0)
			return 1;
	return 0;
}

static int event_visible(cu_vks_t *vks, const char *principal, int admin,
                         json_t *ev)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	const char *key = json_string_value(json_object_get(ev, "key"));
	const char *detail = json_string_value(json_object_get(ev, "detail"));
	int mine = 0;

	if (admin)
		return 1;
	if (type != NULL && strncmp(type, "role_", 5) == 0) {
		json_t *d = detail != NULL ? json_loads(detail, 0, NULL) : NULL;
		const char *who =
		    json_string_value(json_object_get(d, "principal"));

		mine = who != NULL && strcmp(who, principal) == 0;
		json_decref(d);
		return mine;
	}
	return key != NULL && key[0] != '\0' && holds_role(vks, principal, key);
}

/* Drop from arr (in place) what principal may not see. */
static void filter_events(cu_vks_t *vks, const char *principal, int admin,
                          json_t *arr)
{
	size_t i = 0;

	if (admin)
		return;
	while (i < json_array_size(arr)) {
		if (event_visible(vks, principal, admin,
		                  json_array_get(arr, i)))
			i++;
		else
			json_array_remove(arr, i);
	}
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int is_admin(cu_vks_t *vks, const char *principal)
{
	return cu_vrbac_check(vks, principal, CU_VPERM_ADMIN, NULL) == 0;
}

/* Server-sent events: one "id/event/data" block per event. */
struct sse {
	cu_vks_t *vks;
	char principal[CU_VRBAC_NAME_MAX + 1];
	int admin;
	int64_t since;
	time_t until;
	char *pending; /* formatted, not yet sent */
	size_t len, off;
};

static void sse_free(void *p)
{
	struct sse *s = p;

	if (s == NULL)
		return;
	free(s->pending);
	free(s);
}

static int sse_fill(struct sse *s)
{
	json_t *arr = NULL, *ev;
	size_t i;
	int r;

	if ((r = cu_vaudit_events(cu_vks_db(s->vks), s->since, 100, &arr)) != 0)
		return r;
	{
		/* past the events this principal may not see */
		size_t n = json_array_size(arr);

		if (n > 0)
			s->since = json_integer_value(
			    json_object_get(json_array_get(arr, n - 1), "seq"));
	}
	filter_events(s->vks, s->principal, s->admin, arr);
	json_array_foreach(arr, i, ev)
	{
		char *data = json_dumps(ev, JSON_COMPACT);
		size_t need;
		char *grown;
		json_int_t seq = json_integer_value(json_object_get(ev, "seq"));
		const char *type =
		    json_string_value(json_object_get(ev, "type"));

		if (data == NULL) {
			r = CU_ERR_NOMEM;
			break;
		}
		need = strlen(data) + 128;
		grown = realloc(s->pending, s->len + need);
		if (grown == NULL) {
			free(data);
			r = CU_ERR_NOMEM;
			break;
		}
		s->pending = grown;
		s->len +=
		    (size_t)snprintf(s->pending + s->len, need,
		                     "id: %lld\nevent: %s\ndata: %s\n\n",
		                     (long long)seq, type ? type : "", data);
		s->since = seq;
		free(data);
	}
	json_decref(arr);
	return r;
}

static ssize_t sse_read(void *arg, uint64_t pos, char *buf, size_t max)
{
	struct sse *s = arg;
	int waited = 0;
	size_t n;

	while (s->off == s->len) {
		free(s->pending);
		s->pending = NULL;
		s->len = s->off = 0;
		if (time(NULL) >= s->until || cu_vks_stopping(s->vks))
			return CU_HTTP_STREAM_END;
		if (sse_fill(s) != 0)
			return CU_HTTP_STREAM_ERROR;
		if (s->len > 0)
			break;
		if (waited >= SSE_HEARTBEAT_MS) {
			/* a comment keeps proxies and clients from timing
			 * out, and lets a closed connection be noticed */
			if (max < 2)
				return CU_HTTP_STREAM_ERROR;
			memcpy(buf, ":\n", 2);
			return 2;
		}
		cu_vks_wait(s->vks, s->since, 1000);
		waited += 1000;
	}
	n = s->len - s->off < max ? s->len - s->off : max;
	memcpy(buf, s->pending + s->off, n);
	s->off += n;
	return (ssize_t)n;
}

static int get_events(cu_http_req_t *req, struct cu_vapi_req *vr)
{
	const char *accept = cu_http_req_header(req, "Accept");
	const char *last = cu_http_req_header(req, "Last-Event-ID");
	int64_t since, wait, max, deadline;
	json_t *arr = NULL;
	int r, admin = is_admin(vr->api->vks, vr->principal);

	if (cu_vapi_int_query(req, "since", 0, INT64_MAX / 2, 0, &since) != 0 ||
	    cu_vapi_int_query(req, "wait", 0, LONGPOLL_MAX_S, 0, &wait) != 0 ||
	    cu_vapi_int_query(req, "max", 1, LIST_MAX, LIST_MAX, &max) != 0)
		return 0;
	if (last != NULL) {
		/* an SSE client resuming after a reconnect */
		int64_t v = 0;
		for (const char *p = last;
		     *p >= '0' && *p <= '9' && v < 1000000000000000LL; p++)
			v = v * 10 + (*p - '0');
		if (v > since)
			since = v;
	}
	if (accept != NULL && strstr(accept, "text/event-stream") != NULL) {
		struct sse *s = calloc(1, sizeof(*s));
		if (s == NULL)
			return cu_vapi_fail(req, CU_ERR_NOMEM, NULL);
		s->vks = vr->api->vks;
		snprintf(s->principal, sizeof(s->principal), "%s",
		         vr->principal);
		s->admin = admin;
		s->since = since;
		s->until = time(NULL) + SSE_MAX_S;
		cu_http_set_header(req, "Cache-Control", "no-store");
		vr->audited = 1; /* recorded when the stream starts */
		{
			struct cu_vaudit_rec rec = {.principal = vr->principal,
			                            .op = "events-stream",
			                            .result = "ok",
			                            .request_id =
			                                cu_http_req_id(req)};
			(void)cu_vaudit_writer_append(vr->api->audit, &rec);
		}
		return cu_http_reply_stream(req, 200, CU_HTTP_SIZE_UNKNOWN,
		                            "text/event-stream", sse_read, s,
		                            sse_free);
	}
	deadline = mono_ms() + wait * 1000;
	for (;;) {
		size_t n;

		if ((r = cu_vaudit_events(cu_vks_db(vr->api->vks), since, max,
		                          &arr)) != 0)
			return cu_vapi_fail(req, r, NULL);
		/* "last" moves past what this principal may not see, so a
		 * page of invisible events never comes back */
		n = json_array_size(arr);
		if (n > 0)
			since = json_integer_value(
			    json_object_get(json_array_get(arr, n - 1), "seq"));
		filter_events(vr->api->vks, vr->principal, admin, arr);
		if (json_array_size(arr) > 0 || wait <= 0 ||
		    (n > 0 && json_array_size(arr) == 0 &&
		     mono_ms() >= deadline))
			break;
		json_decref(arr);
		arr = NULL;
		if (n > 0)
			continue; /* more may follow at once */
		/* long-poll: wake on a new event or give up after `wait` */
		{
			int64_t left = deadline - mono_ms();

			if (left <= 0 ||
			    !cu_vks_wait(vr->api->vks, since, (int)left))
				wait = 0;
		}
	}
	return cu_vapi_ok(
	    req, 200,
	    json_pack("{s:o,s:I}", "value", arr, "last", (json_int_t)since));
}

int cu_vapi_mount_admin(cu_vapi_t *api, cu_http_server_t *srv)
{
	static const struct cu_vapi_route routes[] = {
	    {.methods = CU_HTTP_GET,
	     .pattern = "/admin/v1/settings",
	     .op = "admin.settings.get",
	     .fn = get_settings},
	    {.methods = CU_HTTP_PUT,
	     .pattern = "/admin/v1/settings",
	     .op = "admin.settings.put",
	     .fn = put_settings},
	    {.methods = CU_HTTP_PUT,
	     .pattern = "/admin/v1/principals/{pname}",
	     .op = "admin.principal.put",
	     .fn = put_principal},
	    {.methods = CU_HTTP_DELETE,
	     .pattern = "/admin/v1/principals/{pname}",
	     .op = "admin.principal.delete",
	     .fn = delete_principal},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/admin/v1/role-assignments",
	     .op = "admin.roles.list",
	     .fn = list_assignments},
	    {.methods = CU_HTTP_PUT,
	     .pattern = "/admin/v1/role-assignments/{id}",
	     .op = "admin.role.put",
	     .fn = put_assignment},
	    {.methods = CU_HTTP_DELETE,
	     .pattern = "/admin/v1/role-assignments/{id}",
	     .op = "admin.role.delete",
	     .fn = delete_assignment},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/admin/v1/audit/verify",
	     .op = "admin.audit.verify",
	     .fn = verify_audit},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/admin/v1/audit",
	     .op = "admin.audit.list",
	     .fn = get_audit},
	    {.methods = CU_HTTP_GET,
	     .pattern = "/admin/v1/events",
	     .op = "admin.events",
	     .fn = get_events},
	};
	int r;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		struct cu_vapi_route rt = routes[i];
		/* events: any principal, filtered to what it may see */
		rt.perm = rt.fn == get_events ? 0 : CU_VPERM_ADMIN;
		rt.max_body = ADMIN_BODY_MAX;
		if ((r = cu_vapi_add(api, srv, &rt)) != 0)
			return r;
	}
	return 0;
}

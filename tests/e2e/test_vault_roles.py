"""custos vault: the Azure built-in key roles, each allowed and refused
exactly its operations; revocation by removing a role (next request);
disabled, expired and not-yet-valid keys."""
import base64
import hashlib
import os
import time

import pytest
from azure.core.exceptions import (ClientAuthenticationError,
                                   HttpResponseError)
from azure.keyvault.keys.crypto import KeyWrapAlgorithm

ADMIN = "Key Vault Administrator"
OFFICER = "Key Vault Crypto Officer"
USER = "Key Vault Crypto User"
SVC = "Key Vault Crypto Service Encryption User"
READER = "Key Vault Reader"

AV = "?api-version=7.4"


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# Azure's built-in roles by their data actions (Azure RBAC, "Security"
# built-in roles): Crypto Officer keys/* and keyrotationpolicies/*; Crypto
# User keys/read, update, backup, encrypt, decrypt, wrap, unwrap, sign,
# verify; Crypto Service Encryption User keys/read, wrap, unwrap; Reader
# */read (keys and rotation policies). keys/read covers the deleted keys
# too (Azure: "Get Deleted Key requires the keys/get permission"). custos's
# admin API is the Administrator's, but for the event stream, which every
# principal reads filtered to its keys.
A, O, U, S, R = ADMIN, OFFICER, USER, SVC, READER
ANY = {A, O, U, S, R}
KEYS_READ = ANY
POLICY_READ = {A, O, R}
MANAGE = {A, O}
USE = {A, O, U}
WRAP = {A, O, U, S}
ADMIN_ONLY = {A}

# One row per operation the vault serves: (name, method, path, body,
# roles allowed). "{t}" is the role's tag (its own keys to delete, purge,
# recover, restore, ...); "{wrapped}", "{ct}", "{sig}", "{blob}" come from
# the set-up below.
MATRIX = [
    ("get", "GET", "/keys/aes" + AV, None, KEYS_READ),
    ("getversion", "GET", "/keys/aes/{aesv}" + AV, None, KEYS_READ),
    ("list", "GET", "/keys" + AV, None, KEYS_READ),
    ("listversions", "GET", "/keys/rot/versions" + AV, None, KEYS_READ),
    ("getdeleted", "GET", "/deletedkeys/gone" + AV, None, KEYS_READ),
    ("listdeleted", "GET", "/deletedkeys" + AV, None, KEYS_READ),
    ("getrotationpolicy", "GET", "/keys/rot/rotationpolicy" + AV, None,
     POLICY_READ),
    ("setrotationpolicy", "PUT", "/keys/rot/rotationpolicy" + AV,
     {"lifetimeActions": [{"trigger": {"timeAfterCreate": "P90D"},
                           "action": {"type": "Rotate"}}],
      "attributes": {"expiryTime": "P1Y"}}, MANAGE),
    ("create", "POST", "/keys/new-{t}/create" + AV,
     {"kty": "oct", "key_size": 256}, MANAGE),
    ("import", "PUT", "/keys/imp-{t}" + AV,
     {"key": {"kty": "oct", "k": "{k}"}}, MANAGE),
    ("update", "PATCH", "/keys/aes" + AV, {"tags": {"t": "{t}"}}, USE),
    ("rotate", "POST", "/keys/rot/rotate" + AV, None, MANAGE),
    ("delete", "DELETE", "/keys/del-{t}" + AV, None, MANAGE),
    ("recover", "POST", "/deletedkeys/rec-{t}/recover" + AV, None, MANAGE),
    ("purge", "DELETE", "/deletedkeys/prg-{t}" + AV, None, MANAGE),
    ("backup", "POST", "/keys/aes/backup" + AV, None, USE),
    ("restore", "POST", "/keys/restore" + AV, {"value": "{blob}"}, MANAGE),
    ("wrapkey", "POST", "/keys/aes//wrapkey" + AV,
     {"alg": "A256KW", "value": "{k}"}, WRAP),
    ("unwrapkey", "POST", "/keys/aes//unwrapkey" + AV,
     {"alg": "A256KW", "value": "{wrapped}"}, WRAP),
    ("encrypt", "POST", "/keys/rsa//encrypt" + AV,
     {"alg": "RSA-OAEP-256", "value": "{k}"}, USE),
    ("decrypt", "POST", "/keys/rsa//decrypt" + AV,
     {"alg": "RSA-OAEP-256", "value": "{ct}"}, USE),
    ("sign", "POST", "/keys/rsa//sign" + AV,
     {"alg": "RS256", "value": "{digest}"}, USE),
    ("verify", "POST", "/keys/rsa//verify" + AV,
     {"alg": "RS256", "digest": "{digest}", "value": "{sig}"}, USE),
    ("settings", "GET", "/admin/v1/settings", None, ADMIN_ONLY),
    ("setsettings", "PUT", "/admin/v1/settings",
     {"soft_delete_retention_days": 90}, ADMIN_ONLY),
    ("putprincipal", "PUT", "/admin/v1/principals/new-{t}",
     {"auth": "token"}, ADMIN_ONLY),
    ("deleteprincipal", "DELETE", "/admin/v1/principals/pd-{t}", None,
     ADMIN_ONLY),
    ("listroles", "GET", "/admin/v1/role-assignments", None, ADMIN_ONLY),
    ("putrole", "PUT", "/admin/v1/role-assignments/ra-{t}",
     {"principal": "spare", "role": READER, "scope": "/"}, ADMIN_ONLY),
    ("deleterole", "DELETE", "/admin/v1/role-assignments/rd-{t}", None,
     ADMIN_ONLY),
    ("audit", "GET", "/admin/v1/audit?since=0", None, ADMIN_ONLY),
    ("auditverify", "GET", "/admin/v1/audit/verify", None, ADMIN_ONLY),
    ("events", "GET", "/admin/v1/events?since=0", None, ANY),
]


def fill(x, ctx):
    """x with every "{name}" in its strings replaced from ctx."""
    if isinstance(x, str):
        return x.format(**ctx)
    if isinstance(x, dict):
        return {k: fill(v, ctx) for k, v in x.items()}
    if isinstance(x, list):
        return [fill(v, ctx) for v in x]
    return x


def ok(r):
    assert r.status_code in (200, 204), (r.request.method, r.url, r.text)
    return r.json() if r.status_code == 200 else None


def test_each_role_allows_exactly_its_operations(vault):
    """Every keys-API and admin-API operation, as a principal of each
    built-in role at vault scope: allowed ones succeed, the others get
    403 Forbidden. One vault; each role acts on keys of its own where
    an operation consumes one."""
    kc = vault.key_client()
    aes = kc.create_oct_key("aes", size=256)
    kc.create_rsa_key("rsa", size=2048)
    kc.create_oct_key("rot", size=256)
    kc.create_oct_key("gone", size=256)
    kc.begin_delete_key("gone", _polling_interval=0).result()
    ok(vault.request("PUT", "/admin/v1/principals/spare",
                     json={"auth": "token"}))
    digest = b64u(hashlib.sha256(b"m").digest())
    shared = {
        "aesv": aes.properties.version,
        "digest": digest,
        "wrapped": ok(vault.request(
            "POST", "/keys/aes//wrapkey" + AV,
            json={"alg": "A256KW", "value": b64u(b"u" * 32)}))["value"],
        "ct": ok(vault.request(
            "POST", "/keys/rsa//encrypt" + AV,
            json={"alg": "RSA-OAEP-256", "value": b64u(b"p" * 32)}))["value"],
        "sig": ok(vault.request(
            "POST", "/keys/rsa//sign" + AV,
            json={"alg": "RS256", "value": digest}))["value"],
    }
    wrong = []
    for role, t in ((A, "admin"), (O, "officer"), (U, "user"),
                    (S, "service"), (R, "reader")):
        for name in (f"del-{t}", f"rec-{t}", f"prg-{t}", f"rst-{t}"):
            kc.create_oct_key(name, size=256)
        blob = ok(vault.request("POST", f"/keys/rst-{t}/backup" + AV))
        for name in (f"rec-{t}", f"prg-{t}", f"rst-{t}"):
            kc.begin_delete_key(name, _polling_interval=0).result()
        kc.purge_deleted_key(f"rst-{t}")
        vault.principal(f"pd-{t}")
        vault.assign(f"rd-{t}", "spare", READER)
        ctx = dict(shared, t=t, blob=blob["value"], k=b64u(os.urandom(32)))
        token = vault.principal(f"p-{t}", role, "/")
        for name, method, path, body, allowed in MATRIX:
            r = vault.request(method, fill(path, ctx), token=token,
                              json=fill(body, ctx))
            if role in allowed:
                good = r.status_code in (200, 204)
            else:
                good = (r.status_code == 403 and
                        r.json()["error"]["code"] == "Forbidden")
            if not good:
                wrong.append(f"{role}: {name} "
                             f"{'allowed' if role in allowed else 'refused'}"
                             f" expected, got {r.status_code} {r.text}")
    assert not wrong, "\n".join(wrong)


def test_key_scope_covers_only_that_key(vault):
    kc = vault.key_client()
    kc.create_oct_key("mine", size=256)
    kc.create_oct_key("other", size=256)
    token = vault.principal("store", SVC, "/keys/mine")
    body = {"alg": "A256KW", "value": b64u(b"k" * 32)}
    assert vault.request("POST", "/keys/mine//wrapkey" + AV, token=token,
                         json=body).status_code == 200
    assert vault.request("POST", "/keys/other//wrapkey" + AV, token=token,
                         json=body).status_code == 403
    # listing the vault (its keys or deleted keys) needs a vault-scope role
    for path in ("/keys", "/deletedkeys"):
        assert vault.request("GET", path + AV,
                             token=token).status_code == 403
    assert vault.request("GET", "/keys/mine/versions" + AV,
                         token=token).status_code == 200


def test_removing_the_role_revokes_on_the_very_next_request(vault):
    k = vault.key_client().create_oct_key("cmk", size=256)
    token = vault.principal("custos-store", SVC, "/keys/cmk")
    cc = vault.remote_crypto_client(k.id, token=token)
    w = cc.wrap_key(KeyWrapAlgorithm.aes_256, b"t" * 32)
    assert cc.unwrap_key(KeyWrapAlgorithm.aes_256,
                         w.encrypted_key).key == b"t" * 32
    vault.unassign("custos-store")
    with pytest.raises(HttpResponseError) as e:
        cc.unwrap_key(KeyWrapAlgorithm.aes_256, w.encrypted_key)
    assert e.value.status_code == 403
    # and back
    vault.assign("again", "custos-store", SVC, "/keys/cmk")
    assert cc.unwrap_key(KeyWrapAlgorithm.aes_256,
                         w.encrypted_key).key == b"t" * 32


def test_unknown_and_deleted_principals_get_the_challenge(vault):
    token = vault.principal("temp", READER)
    assert vault.request("GET", "/keys" + AV, token=token).status_code == 200
    assert vault.request("DELETE", "/admin/v1/principals/temp"
                         ).status_code == 204
    r = vault.request("GET", "/keys" + AV, token=token)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Bearer authorization=")
    kc = vault.key_client(token="not-a-token")
    with pytest.raises(ClientAuthenticationError):
        kc.get_key("x")


def test_disabled_expired_and_early_keys_are_refused(vault):
    kc = vault.key_client()
    now = int(time.time())
    body = {"alg": "A256KW", "value": b64u(b"k" * 32)}
    kc.create_oct_key("dis", size=256, enabled=False)
    for name, attrs in (("exp", {"exp": now - 10}),
                        ("early", {"nbf": now + 3600})):
        r = vault.request("POST", f"/keys/{name}/create" + AV,
                          json={"kty": "oct", "key_size": 256,
                                "attributes": attrs})
        assert r.status_code == 200, r.text
    for name, word in (("dis", "disabled"), ("exp", "expired"),
                       ("early", "not yet valid")):
        r = vault.request("POST", f"/keys/{name}//wrapkey" + AV, json=body)
        assert r.status_code == 403, (name, r.text)
        assert word in r.json()["error"]["message"]
    # enabling the disabled key lets it work again
    kc.update_key_properties("dis", enabled=True)
    assert vault.request("POST", "/keys/dis//wrapkey" + AV,
                         json=body).status_code == 200


def test_a_client_certificate_identifies_a_principal(vault):
    """The store is a principal by its TLS client certificate: no secret
    changes hands (the role of Azure's managed identity)."""
    import requests
    cert, key, fp = vault.pki.client("custos-store")
    r = vault.request("PUT", "/admin/v1/principals/custos-store",
                      json={"auth": "certificate",
                            "certificate_sha256": fp})
    assert r.status_code == 200, r.text
    vault.key_client().create_oct_key("cmk", size=256)
    body = {"alg": "A256KW", "value": b64u(b"c" * 32)}

    def wrap():
        return requests.post(vault.url + "/keys/cmk//wrapkey" + AV,
                             json=body, cert=(cert, key),
                             verify=vault.pki.ca, timeout=20)

    assert wrap().status_code == 403  # known, but no role yet
    vault.assign("store-cmk", "custos-store", SVC, "/keys/cmk")
    r = wrap()
    assert r.status_code == 200, r.text
    vault.unassign("store-cmk")
    assert wrap().status_code == 403
    # an unregistered certificate is not anyone
    other, okey, _ = vault.pki.client("stranger")
    r = requests.post(vault.url + "/keys/cmk//wrapkey" + AV, json=body,
                      cert=(other, okey), verify=vault.pki.ca, timeout=20)
    assert r.status_code == 401

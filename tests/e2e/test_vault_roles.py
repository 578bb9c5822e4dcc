"""custos vault: the Azure built-in key roles, each allowed and refused
exactly its operations; revocation by removing a role (next request);
disabled, expired and not-yet-valid keys."""
import base64
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


def operations(vault, role_tag, wrapped):
    """name -> (method, path, json) of one request per permission."""
    return {
        "get": ("GET", "/keys/aes" + AV, None),
        "list": ("GET", "/keys" + AV, None),
        "create": ("POST", f"/keys/new-{role_tag}/create" + AV,
                   {"kty": "oct", "key_size": 256}),
        "update": ("PATCH", "/keys/aes" + AV, {"tags": {"t": role_tag}}),
        "wrap": ("POST", "/keys/aes//wrapkey" + AV,
                 {"alg": "A256KW", "value": b64u(b"w" * 32)}),
        "unwrap": ("POST", "/keys/aes//unwrapkey" + AV,
                   {"alg": "A256KW", "value": wrapped}),
        "sign": ("POST", "/keys/rsa//sign" + AV,
                 {"alg": "RS256", "value": b64u(b"d" * 32)}),
        "backup": ("POST", "/keys/aes/backup" + AV, None),
        "delete": ("DELETE", f"/keys/del-{role_tag}" + AV, None),
        "listdeleted": ("GET", "/deletedkeys" + AV, None),
        "admin": ("GET", "/admin/v1/settings", None),
    }


ALLOWED = {
    ADMIN: {"get", "list", "create", "update", "wrap", "unwrap", "sign",
            "backup", "delete", "listdeleted", "admin"},
    OFFICER: {"get", "list", "create", "update", "wrap", "unwrap", "sign",
              "backup", "delete", "listdeleted"},
    USER: {"get", "list", "update", "wrap", "unwrap", "sign", "backup"},
    SVC: {"get", "list", "wrap", "unwrap"},
    READER: {"get", "list", "listdeleted"},
}


@pytest.mark.parametrize("role", sorted(ALLOWED))
def test_each_role_allows_exactly_its_operations(vault, role):
    kc = vault.key_client()
    kc.create_oct_key("aes", size=256)
    kc.create_rsa_key("rsa", size=2048)
    tag = role.split()[-1].lower()
    kc.create_oct_key(f"del-{tag}", size=256)
    r = vault.request("POST", "/keys/aes//wrapkey" + AV,
                      json={"alg": "A256KW", "value": b64u(b"u" * 32)})
    wrapped = r.json()["value"]
    token = vault.principal(f"p-{tag}", role, "/")
    for name, (method, path, body) in operations(vault, tag,
                                                 wrapped).items():
        r = vault.request(method, path, token=token, json=body)
        if name in ALLOWED[role]:
            assert r.status_code in (200, 204), (role, name, r.text)
        else:
            assert r.status_code == 403, (role, name, r.status_code, r.text)
            assert r.json()["error"]["code"] == "Forbidden"


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
    # listing the vault needs a vault-scope role
    assert vault.request("GET", "/keys" + AV,
                         token=token).status_code == 403


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

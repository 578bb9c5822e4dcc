"""custos vault: key management through the real Azure SDK for Python
(azure.keyvault.keys.KeyClient), unchanged, with a static bearer token."""
import base64
import datetime

import pytest
from azure.core.exceptions import (HttpResponseError, ResourceExistsError,
                                   ResourceNotFoundError)
from azure.keyvault.keys import KeyCurveName, KeyType

POLL = {"_polling_interval": 0}
AV = "?api-version=7.4"


def deleted_conflict(name):
    """Azure's 409 body for a name held by a deleted key."""
    return {"error": {
        "code": "Conflict",
        "message": f"Key {name} is currently in a deleted but recoverable "
                   "state, and its name cannot be reused; in this state, "
                   "the key can only be recovered or purged.",
        "innererror": {"code": "ObjectIsDeletedButRecoverable"}}}


def test_create_get_list_and_versions(vault):
    kc = vault.key_client()
    k = kc.create_rsa_key("rsa-a", size=3072)
    assert k.key_type == KeyType.rsa
    assert k.id.startswith(vault.url + "/keys/rsa-a/")
    assert len(k.properties.version) == 32
    assert int(k.properties.version, 16) >= 0
    assert k.properties.enabled is True
    assert k.properties.recovery_level == "Recoverable+Purgeable"
    assert k.properties.recoverable_days == 90
    assert len(k.key.n) == 384 and k.key.e == b"\x01\x00\x01"
    assert k.key.d is None and k.key.p is None
    assert kc.get_key("rsa-a").id == k.id
    # create on an existing name adds a version; latest follows it
    k2 = kc.create_rsa_key("rsa-a", size=2048)
    assert k2.properties.version != k.properties.version
    assert kc.get_key("rsa-a").id == k2.id
    assert kc.get_key("rsa-a", k.properties.version).id == k.id
    versions = [p.version for p in
                kc.list_properties_of_key_versions("rsa-a")]
    assert versions == [k.properties.version, k2.properties.version]
    kc.create_oct_key("oct-a", size=256, hardware_protected=True)
    kc.create_ec_key("ec-a", curve=KeyCurveName.p_384)
    names = sorted(p.name for p in kc.list_properties_of_keys())
    assert names == ["ec-a", "oct-a", "rsa-a"]
    oct_key = kc.get_key("oct-a")
    assert oct_key.key_type == "oct-HSM"
    assert oct_key.key.k is None  # secret keys never leave the vault
    ec = kc.get_key("ec-a")
    assert ec.key.crv == "P-384" and len(ec.key.x) == 48
    with pytest.raises(ResourceNotFoundError):
        kc.get_key("missing")


def test_paging_follows_next_link(vault):
    kc = vault.key_client()
    for i in range(30):
        kc.create_oct_key(f"page-{i:02d}", size=256)
    names = [p.name for p in kc.list_properties_of_keys(max_page_size=7)]
    assert names == [f"page-{i:02d}" for i in range(30)]
    r = vault.request("GET", "/keys?api-version=7.4&maxresults=25")
    assert r.status_code == 200
    body = r.json()
    assert len(body["value"]) == 25
    assert "$skiptoken=25" in body["nextLink"]
    assert vault.request("GET", "/keys?api-version=7.4&maxresults=26"
                         ).status_code == 400


def pages(vault, path, maxresults):
    """Follow nextLink from path to the end: the list of pages' values."""
    url = f"{path}?api-version=7.4&maxresults={maxresults}"
    out = []
    while url is not None:
        r = vault.request("GET", url)
        assert r.status_code == 200, (url, r.text)
        body = r.json()
        assert len(body["value"]) <= maxresults
        out.append(body["value"])
        url = body["nextLink"]
        if url is not None:
            assert url.startswith(vault.url + path + "?")
            assert f"maxresults={maxresults}" in url
            url = url[len(vault.url):]
        assert len(out) < 100
    return out


def test_versions_and_deleted_keys_page_by_next_link(vault):
    kc = vault.key_client()
    made = [kc.create_oct_key("many", size=256).properties.version
            for _ in range(12)]
    got = pages(vault, "/keys/many/versions", 5)
    assert [len(p) for p in got] == [5, 5, 2]
    kids = [x["kid"] for p in got for x in p]
    assert kids == [f"{vault.url}/keys/many/{v}" for v in made]
    # exactly a multiple of the page: no empty page at the end
    assert [len(p) for p in pages(vault, "/keys/many/versions", 6)] == [6, 6]
    assert [p.version for p in kc.list_properties_of_key_versions(
        "many", max_page_size=4)] == made
    names = [f"del-{i}" for i in range(7)]
    for n in names:
        kc.create_oct_key(n, size=256)
        kc.begin_delete_key(n, **POLL).result()
    got = pages(vault, "/deletedkeys", 3)
    assert [len(p) for p in got] == [3, 3, 1]
    items = [x for p in got for x in p]
    assert [x["recoveryId"] for x in items] == \
        [f"{vault.url}/deletedkeys/{n}" for n in names]
    assert all(x["kid"] == f"{vault.url}/keys/{n}"
               for x, n in zip(items, names))
    assert [d.name for d in kc.list_deleted_keys(max_page_size=2)] == names
    # the live keys' list skips the deleted ones
    assert [x["kid"] for p in pages(vault, "/keys", 1) for x in p] == \
        [f"{vault.url}/keys/many"]


def test_bad_maxresults_and_skiptoken_are_refused(vault):
    vault.key_client().create_oct_key("k", size=256)
    for path in ("/keys", "/keys/k/versions", "/deletedkeys"):
        for q in ("maxresults=0", "maxresults=26", "maxresults=-1",
                  "maxresults=abc", "maxresults=", "maxresults=2.5",
                  "maxresults=99999999999999999999999",
                  "$skiptoken=x", "$skiptoken=-3"):
            r = vault.request("GET", f"{path}?api-version=7.4&{q}")
            assert r.status_code == 400, (path, q, r.text)
            err = r.json()["error"]
            assert err["code"] == "BadParameter"
            name = q.split("=")[0]
            assert f"'{name}' must be an integer from" in err["message"]
        for q in ("maxresults=1", "maxresults=25"):
            r = vault.request("GET", f"{path}?api-version=7.4&{q}")
            assert r.status_code == 200, (path, q, r.text)


def test_update_enable_disable_expiry_and_tags(vault):
    kc = vault.key_client()
    kc.create_rsa_key("upd", size=2048)
    exp = datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=0) + datetime.timedelta(days=30)
    p = kc.update_key_properties("upd", enabled=False, expires_on=exp,
                                 tags={"owner": "acme"},
                                 key_operations=["wrapKey", "unwrapKey"])
    assert p.properties.enabled is False
    assert p.properties.expires_on == exp
    assert p.properties.tags == {"owner": "acme"}
    assert sorted(p.key_operations) == ["unwrapKey", "wrapKey"]
    p = kc.update_key_properties("upd", enabled=True)
    assert p.properties.enabled is True
    assert p.properties.tags == {"owner": "acme"}


def test_delete_recover_purge(vault):
    kc = vault.key_client()
    kc.create_rsa_key("gone", size=2048)
    d = kc.begin_delete_key("gone", **POLL).result()
    assert d.recovery_id == vault.url + "/deletedkeys/gone"
    assert (d.scheduled_purge_date - d.deleted_date).days == 90
    with pytest.raises(ResourceNotFoundError):
        kc.get_key("gone")
    assert [x.name for x in kc.list_deleted_keys()] == ["gone"]
    assert kc.get_deleted_key("gone").name == "gone"
    # a deleted name cannot be created over, nor imported over, and
    # the answer is Azure's, word for word
    with pytest.raises(ResourceExistsError) as e:
        kc.create_rsa_key("gone", size=2048)
    assert e.value.status_code == 409
    assert e.value.error.code == "Conflict"
    r = vault.request("POST", "/keys/gone/create" + AV, json={"kty": "RSA"})
    assert r.status_code == 409
    assert r.json() == deleted_conflict("gone")
    r = vault.request("PUT", "/keys/gone" + AV,
                      json={"key": {"kty": "oct", "k": "AQ" * 21 + "A"}})
    assert r.status_code == 409
    assert r.json() == deleted_conflict("gone")
    r = kc.begin_recover_deleted_key("gone", **POLL).result()
    assert r.name == "gone"
    assert kc.get_key("gone").id == r.id
    kc.begin_delete_key("gone", **POLL).result()
    kc.purge_deleted_key("gone")
    with pytest.raises(ResourceNotFoundError):
        kc.get_deleted_key("gone")
    kc.create_rsa_key("gone", size=2048)


def test_backup_and_restore(vault):
    kc = vault.key_client()
    k = kc.create_rsa_key("bk", size=2048)
    blob = kc.backup_key("bk")
    assert isinstance(blob, bytes) and len(blob) > 100
    # over a live key: a plain conflict
    with pytest.raises(ResourceExistsError):
        kc.restore_key_backup(blob)
    value = base64.urlsafe_b64encode(blob).rstrip(b"=").decode()
    r = vault.request("POST", "/keys/restore" + AV, json={"value": value})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "Conflict"
    assert "innererror" not in r.json()["error"]
    # over a deleted one: Azure's answer for a deleted name
    kc.begin_delete_key("bk", **POLL).result()
    with pytest.raises(ResourceExistsError):
        kc.restore_key_backup(blob)
    r = vault.request("POST", "/keys/restore" + AV, json={"value": value})
    assert r.status_code == 409
    assert r.json() == deleted_conflict("bk")
    kc.purge_deleted_key("bk")
    r = kc.restore_key_backup(blob)
    assert r.id == k.id
    # the restored material still works: unwrap what the old key wrapped
    cc = vault.crypto_client(k)
    from azure.keyvault.keys.crypto import KeyWrapAlgorithm
    w = cc.wrap_key(KeyWrapAlgorithm.rsa_oaep_256, b"\x07" * 32)
    assert vault.remote_crypto_client(r).unwrap_key(
        KeyWrapAlgorithm.rsa_oaep_256, w.encrypted_key).key == b"\x07" * 32
    # a blob that was tampered with is refused
    bad = bytearray(blob)
    bad[len(bad) // 2] ^= 1
    kc.begin_delete_key("bk", **POLL).result()
    kc.purge_deleted_key("bk")
    with pytest.raises(HttpResponseError) as e:
        kc.restore_key_backup(bytes(bad))
    assert e.value.status_code == 400


def test_rotate_and_rotation_policy(vault):
    kc = vault.key_client()
    k = kc.create_rsa_key("rot", size=2048)
    r = kc.rotate_key("rot")
    assert r.properties.version != k.properties.version
    assert r.key_type == k.key_type and len(r.key.n) == len(k.key.n)
    assert len(list(kc.list_properties_of_key_versions("rot"))) == 2
    from azure.keyvault.keys import (KeyRotationLifetimeAction,
                                     KeyRotationPolicy,
                                     KeyRotationPolicyAction)
    pol = kc.update_key_rotation_policy("rot", KeyRotationPolicy(
        lifetime_actions=[KeyRotationLifetimeAction(
            KeyRotationPolicyAction.rotate, time_after_create="P90D")],
        expires_in="P1Y"))
    assert pol.lifetime_actions[0].time_after_create == "P90D"
    got = kc.get_key_rotation_policy("rot")
    assert got.lifetime_actions[0].action.lower() == "rotate"
    assert got.expires_in == "P1Y"


def test_refusals_carry_azure_error_bodies(vault):
    """A refused operation says why in Azure's words and innererror
    codes: KeyDisabled, KeyOperationForbidden, ForbiddenByRbac (roles
    only); an expired or not yet valid key gets none, as no code of
    Azure's for these could be confirmed."""
    kc = vault.key_client()
    now = int(datetime.datetime.now(datetime.timezone.utc).timestamp())
    body = {"alg": "A256KW", "value": base64.urlsafe_b64encode(
        b"k" * 32).rstrip(b"=").decode()}

    def refused(name, op="wrapkey", token=None):
        r = vault.request("POST", f"/keys/{name}//{op}" + AV, json=body,
                          token=token)
        assert r.status_code == 403, (name, r.text)
        return r.json()

    kc.create_oct_key("off", size=256, enabled=False)
    assert refused("off") == {"error": {
        "code": "Forbidden",
        "message": "Operation wrapKey is not allowed on a disabled key.",
        "innererror": {"code": "KeyDisabled"}}}
    kc.create_oct_key("wraponly", size=256, key_operations=["wrapKey"])
    assert refused("wraponly", "unwrapkey") == {"error": {
        "code": "Forbidden",
        "message": "Operation unwrapKey is not permitted on this key.",
        "innererror": {"code": "KeyOperationForbidden"}}}
    for name, attrs, why in (
            ("old", {"exp": now - 10}, "the key has expired (exp)"),
            ("early", {"nbf": now + 3600},
             "the key is not yet valid (nbf)")):
        r = vault.request("POST", f"/keys/{name}/create" + AV,
                          json={"kty": "oct", "attributes": attrs})
        assert r.status_code == 200, r.text
        assert refused(name) == {"error": {
            "code": "Forbidden",
            "message": f"Operation wrapKey is not allowed: {why}."}}
    token = vault.principal("reader", "Key Vault Reader")
    e = refused("off", token=token)["error"]
    assert e["innererror"] == {"code": "ForbiddenByRbac"}
    assert e["message"].startswith("Caller is not authorized")
    # the SDK raises its usual error and reads the codes
    with pytest.raises(HttpResponseError) as ex:
        vault.remote_crypto_client(kc.get_key("off")).wrap_key(
            "A256KW", b"k" * 32)
    assert ex.value.status_code == 403
    assert ex.value.error.code == "Forbidden"
    assert ex.value.error.innererror == {"code": "KeyDisabled"}


def test_import_rsa_ec_and_oct(vault):
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from azure.keyvault.keys import JsonWebKey
    kc = vault.key_client()

    def b(n, size=None):
        size = size or (n.bit_length() + 7) // 8
        return n.to_bytes(size, "big")

    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pn = priv.private_numbers()
    jwk = JsonWebKey(kty="RSA", n=b(pn.public_numbers.n),
                     e=b(pn.public_numbers.e), d=b(pn.d), p=b(pn.p),
                     q=b(pn.q), dp=b(pn.dmp1), dq=b(pn.dmq1),
                     qi=b(pn.iqmp))
    k = kc.import_key("imp-rsa", jwk)
    assert k.key.n == b(pn.public_numbers.n)
    assert k.key.d is None
    eck = ec.generate_private_key(ec.SECP256R1())
    en = eck.private_numbers()
    k = kc.import_key("imp-ec", JsonWebKey(
        kty="EC", crv="P-256", x=b(en.public_numbers.x, 32),
        y=b(en.public_numbers.y, 32), d=b(en.private_value, 32)))
    assert k.key.x == b(en.public_numbers.x, 32)
    k = kc.import_key("imp-oct", JsonWebKey(kty="oct", k=b"\x01" * 32),
                      hardware_protected=True)
    assert k.key_type == "oct-HSM" and k.key.k is None
    # a key whose parts do not match is refused
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    bad = JsonWebKey(kty="RSA", n=b(pn.public_numbers.n),
                     e=b(pn.public_numbers.e), d=b(pn.d),
                     p=b(other.private_numbers().p), q=b(pn.q),
                     dp=b(pn.dmp1), dq=b(pn.dmq1), qi=b(pn.iqmp))
    with pytest.raises(HttpResponseError) as e:
        kc.import_key("imp-bad", bad)
    assert e.value.status_code == 400


def test_key_names_ignore_case_as_azure_does(vault):
    """Azure compares object identifiers case-insensitively: a name in
    any spelling is the key first created, which keeps its spelling."""
    kc = vault.key_client()
    V32 = base64.urlsafe_b64encode(b"k" * 32).rstrip(b"=").decode()
    k = kc.create_oct_key("CaseKey", size=256)
    assert k.name == "CaseKey"
    got = kc.get_key("casekey")
    assert got.id == k.id and got.name == "CaseKey"
    k2 = kc.create_oct_key("CASEKEY", size=256)  # a new version, not a key
    assert k2.name == "CaseKey"
    assert [p.name for p in kc.list_properties_of_keys()].count(
        "CaseKey") == 1
    assert len(list(kc.list_properties_of_key_versions("cAsEkEy"))) == 2
    # unwrap through a lower-case kid, with a role scoped to another
    # spelling
    token = vault.principal("svc-case", "Key Vault Crypto Service "
                            "Encryption User", "/keys/CASEKEY")
    wrap = vault.request("POST", "/keys/casekey//wrapkey?api-version=7.4",
                         token=token,
                         json={"alg": "A256KW", "value": V32})
    assert wrap.status_code == 200, wrap.text
    assert wrap.json()["kid"] == k2.id
    un = vault.request("POST",
                       f"/keys/caseKEY/{k2.properties.version}/unwrapkey"
                       "?api-version=7.4", token=token,
                       json={"alg": "A256KW", "value": wrap.json()["value"]})
    assert un.status_code == 200, un.text
    assert un.json()["value"] == V32
    # disabling through one spelling refuses every spelling
    kc.update_key_properties("CASEKEY", k2.properties.version,
                             enabled=False)
    r = vault.request("POST", "/keys/CaseKey//wrapkey?api-version=7.4",
                      token=token, json={"alg": "A256KW", "value": V32})
    assert r.status_code == 403, r.text
    assert "disabled" in r.json()["error"]["message"]
    # delete and recover through other spellings
    kc.begin_delete_key("casekey", **POLL).wait()
    with pytest.raises(ResourceExistsError):
        kc.create_oct_key("CASEKEY", size=256)
    assert kc.get_deleted_key("CASEKEY").name == "CaseKey"
    assert kc.begin_recover_deleted_key("cAsEkEy", **POLL).result().name \
        == "CaseKey"

"""custos vault: bad input gets a clear 4xx in Azure's error shape, never
a crash: authentication first, unknown api-versions, malformed JSON and
base64url, oversized bodies."""
import pytest

AV = "?api-version=7.4"


def test_the_challenge_comes_before_the_body_is_read(vault):
    r = vault.request("POST", "/keys/x/create" + AV, token="",
                      data=b"{not json")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == (
        'Bearer authorization="https://login.microsoftonline.com/common", '
        'resource="https://vault.azure.net"')
    assert r.json()["error"]["code"] == "Unauthorized"
    assert vault.request("GET", "/keys" + AV,
                         token="garbage").status_code == 401
    r = vault.request("GET", "/keys" + AV, token="",
                      headers={"Authorization": "Basic YTpi"})
    assert r.status_code == 401


@pytest.mark.parametrize("av", ["7.0", "7.1", "7.2", "7.3", "7.4",
                                "7.4-preview.1"])
def test_supported_api_versions(vault, av):
    assert vault.request("GET", f"/keys?api-version={av}"
                         ).status_code == 200


@pytest.mark.parametrize("q", ["?api-version=2016-10-01",
                               "?api-version=7.5", "", "?api-version="])
def test_unknown_api_versions_are_refused(vault, q):
    r = vault.request("GET", "/keys" + q)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BadParameter"


@pytest.mark.parametrize("body", [
    b"{not json", b"[]", b"", b'{"kty":"RSA","kty":"oct"}',
    b'{"kty":"RSA"} trailing', b'{"kty":"\xff"}', b'{"kty":"RSA\\u0000"}',
    b'{"kty":"RSA","key_size":99999999999999999999999}',
])
def test_malformed_json_is_refused(vault, body):
    r = vault.request("POST", "/keys/bad/create" + AV, data=body,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BadParameter"


@pytest.mark.parametrize("body", [
    {"kty": "RSA", "key_size": 1024}, {"kty": "RSA", "key_size": "2048"},
    {"kty": "oct", "key_size": 128}, {"kty": "EC", "crv": "P-521"},
    {"kty": "OKP"}, {"kty": "RSA", "key_ops": ["fly"]},
    {"kty": "RSA", "attributes": {"nbf": 20, "exp": 10}},
    {"kty": "RSA", "attributes": {"enabled": "yes"}},
    {"kty": "RSA", "tags": {"a": 1}},
])
def test_bad_create_requests_are_refused(vault, body):
    r = vault.request("POST", "/keys/bad/create" + AV, json=body)
    assert r.status_code == 400, (body, r.text)


def test_bad_names_are_refused(vault):
    r = vault.request("POST", "/keys/bad_name/create" + AV,
                      json={"kty": "oct"})
    assert r.status_code == 400
    r = vault.request("POST", "/keys/" + "a" * 128 + "/create" + AV,
                      json={"kty": "oct"})
    assert r.status_code == 400


@pytest.mark.parametrize("value", ["Zg=", "Zg==", "Z", "a+b/", "a b",
                                   "!!!!", 12, None])
def test_malformed_base64url_is_refused(vault, value):
    vault.key_client().create_oct_key("o", size=256)
    r = vault.request("POST", "/keys/o//wrapkey" + AV,
                      json={"alg": "A256KW", "value": value})
    assert r.status_code == 400, (value, r.text)
    assert r.json()["error"]["code"] == "BadParameter"


def test_unknown_keys_versions_and_algorithms(vault):
    vault.key_client().create_oct_key("o", size=256)
    r = vault.request("POST", "/keys/nope//wrapkey" + AV,
                      json={"alg": "A256KW", "value": "AAAAAAAAAAAAAAAAAAAAAA"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "KeyNotFound"
    r = vault.request("GET", "/keys/o/" + "0" * 32 + AV)
    assert r.status_code == 404
    r = vault.request("GET", "/keys/o/not-hex" + AV)
    assert r.status_code == 404
    r = vault.request("POST", "/keys/o//wrapkey" + AV,
                      json={"alg": "ROT13", "value": "AAAA"})
    assert r.status_code == 400


def test_oversized_bodies_are_refused(vault):
    """A body over the limit is refused before it is read (the client
    waits with Expect: 100-continue, as curl and the SDKs' transports do
    for large bodies)."""
    import socket
    import ssl
    host, port = "localhost", int(vault.url.rsplit(":", 1)[1])
    ctx = ssl.create_default_context(cafile=vault.pki.ca)
    with socket.create_connection((host, port), timeout=20) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall((f"POST /keys/big/create{AV} HTTP/1.1\r\n"
                   f"Host: {host}:{port}\r\n"
                   f"Authorization: Bearer {vault.admin_token}\r\n"
                   "Content-Type: application/json\r\n"
                   "Content-Length: 200000\r\n"
                   "Expect: 100-continue\r\n\r\n").encode())
        resp = b""
        while b"\r\n\r\n" not in resp:
            chunk = s.recv(4096)
            if not chunk:
                break
            resp += chunk
    assert resp.startswith(b"HTTP/1.1 413"), resp
    # and the vault is still there, and recorded the refusal
    assert vault.request("GET", "/keys" + AV).status_code == 200
    recs = vault.request("GET", "/admin/v1/audit?since=0").json()["value"]
    assert any("big" in r["key"] and r["result"] == "RequestTooLarge"
               for r in recs)


def rotate_after(duration):
    return {"action": {"type": "Rotate"},
            "trigger": {"timeAfterCreate": duration}}


def rotate_before(duration):
    return {"action": {"type": "Rotate"},
            "trigger": {"timeBeforeExpiry": duration}}


@pytest.mark.parametrize("policy", [
    {"lifetimeActions": [rotate_after("P0D")]},
    {"lifetimeActions": [rotate_after("P6D")]},
    {"lifetimeActions": [{"action": {"type": "Rotate"},
                          "trigger": {"timeBeforeExpiry": "P1D"}}]},
    {"lifetimeActions": [rotate_after("P30D")],
     "attributes": {"expiryTime": "P27D"}},
    {"lifetimeActions": [rotate_after("P30D"), rotate_after("P31D"),
                         rotate_after("P32D")]},
    {"lifetimeActions": [{"action": {"type": "Rotate"}, "trigger": {
        "timeAfterCreate": "P30D", "timeBeforeExpiry": "P30D"}}]},
    {"lifetimeActions": [{"action": {"type": "Explode"},
                          "trigger": {"timeAfterCreate": "P30D"}}]},
    # the version a rotation makes would be due at once, or in 6 days
    {"lifetimeActions": [rotate_before("P28D")],
     "attributes": {"expiryTime": "P28D"}},
    {"lifetimeActions": [rotate_before("P60D")],
     "attributes": {"expiryTime": "P30D"}},
    {"lifetimeActions": [rotate_after("P30D"), rotate_before("P24D")],
     "attributes": {"expiryTime": "P30D"}},
])
def test_rotation_policies_below_azures_minimums_are_refused(vault, policy):
    """Azure rotates at the earliest 7 days after creation or before
    expiry, and a new version expires at the earliest after 28 days; a
    shorter policy would rotate on every pass of the maintenance."""
    vault.key_client().create_oct_key("pol", size=256)
    r = vault.request("PUT", "/keys/pol/rotationpolicy" + AV, json=policy)
    assert r.status_code == 400, (policy, r.text)
    assert r.json()["error"]["code"] == "BadParameter"


@pytest.mark.parametrize("policy", [
    {"lifetimeActions": [
        rotate_after("P7D"),
        {"action": {"type": "Notify"}, "trigger": {"timeBeforeExpiry": "P1D"}}],
     "attributes": {"expiryTime": "P28D"}},
    {"lifetimeActions": [rotate_before("P21D")],
     "attributes": {"expiryTime": "P28D"}},
    {"lifetimeActions": [rotate_before("P30D")]},
])
def test_rotation_policies_at_azures_minimums_are_taken(vault, policy):
    vault.key_client().create_oct_key("pol", size=256)
    r = vault.request("PUT", "/keys/pol/rotationpolicy" + AV, json=policy)
    assert r.status_code == 200, r.text
    assert r.json()["lifetimeActions"] == policy["lifetimeActions"]

"""custos vault: key operations through the real Azure SDK
(azure.keyvault.keys.crypto.CryptographyClient) and raw REST calls.

The SDK wraps, encrypts and verifies with RSA public keys locally; unwrap,
decrypt and sign reach the vault. Raw calls check the server side of the
operations the SDK does locally."""
import base64
import hashlib
import os

import pytest
from azure.core.exceptions import HttpResponseError
from cryptography.hazmat.primitives import hashes, keywrap
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from azure.keyvault.keys import KeyCurveName
from azure.keyvault.keys.crypto import (EncryptionAlgorithm,
                                        KeyWrapAlgorithm, SignatureAlgorithm)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


@pytest.mark.parametrize("size", [2048, 3072, 4096])
def test_rsa_wrap_unwrap_both_oaep_hashes(vault, size):
    k = vault.key_client().create_rsa_key(f"rsa{size}", size=size)
    cc = vault.crypto_client(k)
    remote = vault.remote_crypto_client(k)
    cek = os.urandom(32)
    for alg in (KeyWrapAlgorithm.rsa_oaep, KeyWrapAlgorithm.rsa_oaep_256):
        w = cc.wrap_key(alg, cek)  # locally, with the public key
        assert len(w.encrypted_key) == size // 8
        u = cc.unwrap_key(alg, w.encrypted_key)
        assert u.key == cek
        assert u.key_id == k.id
        w = remote.wrap_key(alg, cek)  # in the vault
        assert remote.unwrap_key(alg, w.encrypted_key).key == cek


def test_rsa_encrypt_decrypt_and_server_side_wrap(vault):
    k = vault.key_client().create_rsa_key("rsa-ed", size=2048)
    cc = vault.crypto_client(k)
    e = cc.encrypt(EncryptionAlgorithm.rsa_oaep_256, b"plaintext")
    assert cc.decrypt(EncryptionAlgorithm.rsa_oaep_256,
                      e.ciphertext).plaintext == b"plaintext"
    # the vault wraps too (what a client without the public key does)
    r = vault.request("POST", f"/keys/rsa-ed/{k.properties.version}/wrapkey"
                      "?api-version=7.4",
                      json={"alg": "RSA-OAEP", "value": b64u(b"k" * 32)})
    assert r.status_code == 200, r.text
    assert r.json()["kid"] == k.id
    u = cc.unwrap_key(KeyWrapAlgorithm.rsa_oaep, unb64u(r.json()["value"]))
    assert u.key == b"k" * 32


def test_old_versions_keep_unwrapping_after_rotation(vault):
    kc = vault.key_client()
    k1 = kc.create_rsa_key("rot-u", size=2048)
    w = vault.crypto_client(k1).wrap_key(KeyWrapAlgorithm.rsa_oaep_256,
                                         b"x" * 32)
    kc.rotate_key("rot-u")
    assert vault.crypto_client(k1.id).unwrap_key(
        KeyWrapAlgorithm.rsa_oaep_256, w.encrypted_key).key == b"x" * 32


def test_oct_keys_wrap_with_a256kw_in_the_vault(vault):
    k = vault.key_client().create_oct_key("aes", size=256)
    cc = vault.remote_crypto_client(k)
    cek = os.urandom(32)
    w = cc.wrap_key(KeyWrapAlgorithm.aes_256, cek)
    assert len(w.encrypted_key) == 40
    assert cc.unwrap_key(KeyWrapAlgorithm.aes_256, w.encrypted_key).key == cek
    # a tampered wrap is refused
    bad = bytearray(w.encrypted_key)
    bad[3] ^= 1
    with pytest.raises(HttpResponseError) as e:
        cc.unwrap_key(KeyWrapAlgorithm.aes_256, bytes(bad))
    assert e.value.status_code == 400


@pytest.mark.parametrize("alg,h", [
    (SignatureAlgorithm.rs256, hashlib.sha256),
    (SignatureAlgorithm.rs384, hashlib.sha384),
    (SignatureAlgorithm.rs512, hashlib.sha512),
    (SignatureAlgorithm.ps256, hashlib.sha256),
    (SignatureAlgorithm.ps384, hashlib.sha384),
    (SignatureAlgorithm.ps512, hashlib.sha512),
])
def test_rsa_signatures_over_digests(vault, alg, h):
    k = vault.key_client().create_rsa_key("signer", size=2048)
    cc = vault.crypto_client(k)
    d = h(b"message").digest()
    s = cc.sign(alg, d)
    assert len(s.signature) == 256
    assert cc.verify(alg, d, s.signature).is_valid
    assert not cc.verify(alg, h(b"other").digest(), s.signature).is_valid
    # the vault's own verify agrees
    r = vault.request("POST", "/keys/signer//verify?api-version=7.4",
                      json={"alg": alg.value, "digest": b64u(d),
                            "value": b64u(s.signature)})
    assert r.status_code == 200 and r.json() == {"value": True}


@pytest.mark.parametrize("crv,alg,h,n", [
    (KeyCurveName.p_256, SignatureAlgorithm.es256, hashlib.sha256, 64),
    (KeyCurveName.p_384, SignatureAlgorithm.es384, hashlib.sha384, 96),
])
def test_ec_signatures_are_raw_r_s(vault, crv, alg, h, n):
    k = vault.key_client().create_ec_key("ec", curve=crv)
    cc = vault.crypto_client(k)
    d = h(b"m").digest()
    s = cc.sign(alg, d)
    assert len(s.signature) == n
    assert cc.verify(alg, d, s.signature).is_valid
    bad = bytearray(s.signature)
    bad[-1] ^= 1
    assert not cc.verify(alg, d, bytes(bad)).is_valid


def test_wrong_algorithm_for_the_key_type_is_refused(vault):
    kc = vault.key_client()
    kc.create_oct_key("o", size=256)
    kc.create_ec_key("e", curve=KeyCurveName.p_256)
    kc.create_rsa_key("r", size=2048)
    cases = [
        ("/keys/o//wrapkey", {"alg": "RSA-OAEP-256", "value": b64u(b"a" * 32)}),
        ("/keys/r//wrapkey", {"alg": "A256KW", "value": b64u(b"a" * 32)}),
        ("/keys/e//wrapkey", {"alg": "RSA-OAEP", "value": b64u(b"a" * 32)}),
        ("/keys/e//sign", {"alg": "ES384", "value": b64u(b"a" * 32)}),
        ("/keys/r//sign", {"alg": "ES256", "value": b64u(b"a" * 32)}),
        ("/keys/r//sign", {"alg": "RS256", "value": b64u(b"a" * 31)}),
    ]
    for path, body in cases:
        r = vault.request("POST", path + "?api-version=7.4", json=body)
        assert r.status_code == 400, (path, body, r.text)
        assert r.json()["error"]["code"] == "BadParameter"


def test_rsa1_5_is_refused_with_a_reason(vault):
    vault.key_client().create_rsa_key("r15", size=2048)
    # a valid RSA1_5 ciphertext for the key would be 256 bytes
    for op, value in (("wrapkey", b"a" * 32), ("unwrapkey", b"c" * 256),
                      ("encrypt", b"a" * 32), ("decrypt", b"c" * 256)):
        r = vault.request("POST", f"/keys/r15//{op}?api-version=7.4",
                          json={"alg": "RSA1_5", "value": b64u(value)})
        assert r.status_code == 400, (op, r.text)
        err = r.json()["error"]
        assert err["code"] == "BadParameter", op
        assert "RSA1_5" in err["message"], op
        assert "padding" in err["message"], op


def vault_op(vault, path, body, status=200):
    r = vault.request("POST", path + "?api-version=7.4", json=body)
    assert r.status_code == status, (path, body["alg"], r.text)
    return r.json()


@pytest.mark.parametrize("alg,h", [("RSA-OAEP", hashes.SHA1),
                                   ("RSA-OAEP-256", hashes.SHA256)])
def test_rsa_encrypt_in_the_vault_is_standard_oaep(vault, alg, h):
    """The vault's own encrypt (the SDK encrypts locally): OAEP with the
    algorithm's hash for MGF1 and label-less, so the private key's holder
    decrypts it with any library, and the vault decrypts it back."""
    priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pn = priv.private_numbers()

    def b(n):
        return b64u(n.to_bytes((n.bit_length() + 7) // 8, "big"))

    jwk = {"kty": "RSA", "n": b(pn.public_numbers.n),
           "e": b(pn.public_numbers.e), "d": b(pn.d), "p": b(pn.p),
           "q": b(pn.q), "dp": b(pn.dmp1), "dq": b(pn.dmq1),
           "qi": b(pn.iqmp)}
    r = vault.request("PUT", "/keys/enc?api-version=7.4", json={"key": jwk})
    assert r.status_code == 200, r.text
    kid = r.json()["key"]["kid"]
    version = kid.rsplit("/", 1)[1]
    msg = os.urandom(48)
    e1 = vault_op(vault, f"/keys/enc/{version}/encrypt",
                  {"alg": alg, "value": b64u(msg)})
    e2 = vault_op(vault, "/keys/enc//encrypt",
                  {"alg": alg, "value": b64u(msg)})
    assert e1["kid"] == kid and e2["kid"] == kid
    assert len(unb64u(e1["value"])) == 256
    assert e1["value"] != e2["value"]  # randomized padding
    pad = padding.OAEP(mgf=padding.MGF1(algorithm=h()), algorithm=h(),
                       label=None)
    assert priv.decrypt(unb64u(e1["value"]), pad) == msg
    for e in (e1, e2):
        d = vault_op(vault, f"/keys/enc/{version}/decrypt",
                     {"alg": alg, "value": e["value"]})
        assert unb64u(d["value"]) == msg and d["kid"] == kid
    # what the key's holder encrypted, the vault decrypts
    local = priv.public_key().encrypt(b"from outside", pad)
    d = vault_op(vault, "/keys/enc//decrypt",
                 {"alg": alg, "value": b64u(local)})
    assert unb64u(d["value"]) == b"from outside"
    # the other OAEP hash does not decrypt it
    other = "RSA-OAEP-256" if alg == "RSA-OAEP" else "RSA-OAEP"
    err = vault_op(vault, "/keys/enc//decrypt",
                   {"alg": other, "value": e1["value"]}, 400)
    assert err["error"]["code"] == "BadParameter"
    # a plaintext longer than OAEP leaves room for is refused
    room = 256 - 2 * h.digest_size - 2
    vault_op(vault, "/keys/enc//encrypt",
             {"alg": alg, "value": b64u(b"x" * room)})
    err = vault_op(vault, "/keys/enc//encrypt",
                   {"alg": alg, "value": b64u(b"x" * (room + 1))}, 400)
    assert err["error"]["code"] == "BadParameter"


def test_a256kw_encrypt_and_wrapkey_agree_on_an_oct_key(vault):
    """On an oct key, encrypt and wrapkey with A256KW are one algorithm
    (RFC 3394, deterministic): each decrypts and unwraps the other's
    output, and both match a known-answer computation."""
    kek = os.urandom(32)
    r = vault.request("PUT", "/keys/kw?api-version=7.4",
                      json={"key": {"kty": "oct", "k": b64u(kek)}})
    assert r.status_code == 200, r.text
    cek = os.urandom(32)
    body = {"alg": "A256KW", "value": b64u(cek)}
    enc = vault_op(vault, "/keys/kw//encrypt", body)
    wrp = vault_op(vault, "/keys/kw//wrapkey", body)
    assert enc["value"] == wrp["value"]
    assert unb64u(enc["value"]) == keywrap.aes_key_wrap(kek, cek)
    for op in ("decrypt", "unwrapkey"):
        out = vault_op(vault, f"/keys/kw//{op}",
                       {"alg": "A256KW", "value": enc["value"]})
        assert unb64u(out["value"]) == cek, op
    # a tampered value and a length A256KW cannot take are refused
    bad = bytearray(unb64u(enc["value"]))
    bad[0] ^= 1
    for op in ("decrypt", "unwrapkey"):
        vault_op(vault, f"/keys/kw//{op}",
                 {"alg": "A256KW", "value": b64u(bytes(bad))}, 400)
    for op in ("encrypt", "wrapkey"):
        vault_op(vault, f"/keys/kw//{op}",
                 {"alg": "A256KW", "value": b64u(b"x" * 20)}, 400)
    # an RSA algorithm on the oct key is refused for encrypt too
    err = vault_op(vault, "/keys/kw//encrypt",
                   {"alg": "RSA-OAEP-256", "value": b64u(cek)}, 400)
    assert "A256KW" in err["error"]["message"]


def test_key_ops_are_enforced(vault):
    vault.key_client().create_rsa_key("wraponly", size=2048,
                                      key_operations=["wrapKey",
                                                      "unwrapKey"])
    r = vault.request("POST", "/keys/wraponly//sign?api-version=7.4",
                      json={"alg": "RS256", "value": b64u(b"a" * 32)})
    assert r.status_code == 403
    r = vault.request("POST", "/keys/wraponly//wrapkey?api-version=7.4",
                      json={"alg": "RSA-OAEP-256", "value": b64u(b"a" * 32)})
    assert r.status_code == 200
